/** @module Tests for `decide()`: one reconcile's whole decision from view, memory and time. */
import assert from "node:assert/strict";
import {
  decideSettings,
  natInstance,
  route,
  routeTable,
  settledHealth,
  writtenRoute,
} from "../../tests/fixtures.ts";
import type { InstanceHealth } from "./health.ts";
import type { NatInstance, RouteTable } from "../model.ts";
import {
  decide,
  type DecideInput,
  type DecideSettings,
  type Decision,
  protectedTables,
} from "./decide.ts";
import { freshMemory, rememberApplied } from "./memory.ts";

const NOW = 1_000_000;
const SETTINGS: DecideSettings = decideSettings();

function nat(n: number, zone: string): NatInstance {
  return natInstance(`i-${n}`, { zone, launchTime: n * 1000 });
}

function table(n: number, zone: string | undefined, on?: number): RouteTable {
  return routeTable(`rtb-${n}`, zone, on === undefined ? undefined : writtenRoute(`i-${on}`));
}

/** A verdict reached two minutes ago, two probes in a row. */
const verdict = (healthy: boolean | undefined, fields: Partial<InstanceHealth> = {}) =>
  settledHealth(healthy, NOW - 120_000, { ...fields });

const A1 = nat(1, "a");
const A2 = nat(2, "a");
const B3 = nat(3, "b");

/** A decision input: everyone healthy unless `health` says otherwise. */
function input(fields: {
  instances?: NatInstance[];
  tables?: RouteTable[];
  health?: Record<string, InstanceHealth>;
  settings?: Partial<DecideSettings>;
  memory?: DecideInput["memory"];
  self?: string;
  generation?: number;
  now?: number;
} = {}): DecideInput {
  const instances = fields.instances ?? [A1, A2, B3];
  const health = new Map(instances.map((i) => [i.instanceId, verdict(true)]));
  for (const [id, h] of Object.entries(fields.health ?? {})) health.set(id, h);
  return {
    view: {
      instances,
      routeTables: fields.tables ?? [table(1, "a", 1), table(2, "a", 2), table(3, "b", 3)],
      health,
      generation: fields.generation ?? 1,
    },
    memory: fields.memory ?? freshMemory(),
    settings: { ...SETTINGS, ...fields.settings },
    self: fields.self,
    now: fields.now ?? NOW,
  };
}

function decided(result: ReturnType<typeof decide>): Decision {
  assert.ok(result.decided, "every instance has a verdict in this example");
  return result;
}

const targets = (d: Decision) => d.plan.routes.map((c) => `${c.routeTableId}->${c.to}:${c.reason}`);

Deno.test("decide() decides nothing until every instance has a verdict", () => {
  const result = decide(input({ health: { "i-2": verdict(undefined) } }));
  assert.deepEqual(result, { decided: false, pending: ["i-2"] });
});

Deno.test("decide() on who acts", async (t) => {
  const cases: [string, Parameters<typeof input>[0], string | undefined, boolean][] = [
    ["without election every node acts", {}, "i-1", true],
    [
      "with election the oldest healthy NAT leads and acts",
      {
        settings: { ec2Election: true },
        self: "i-1",
      },
      "i-1",
      true,
    ],
    [
      "with election a follower does not act",
      {
        settings: { ec2Election: true },
        self: "i-2",
      },
      "i-1",
      false,
    ],
    [
      "with election an unknown self does not act",
      {
        settings: { ec2Election: true },
      },
      "i-1",
      false,
    ],
    [
      "the next oldest leads once the oldest is unhealthy",
      {
        settings: { ec2Election: true },
        self: "i-2",
        health: { "i-1": verdict(false) },
      },
      "i-2",
      true,
    ],
    [
      "with election and no healthy NAT nobody leads or acts",
      {
        settings: { ec2Election: true },
        self: "i-1",
        health: { "i-1": verdict(false), "i-2": verdict(false), "i-3": verdict(false) },
      },
      undefined,
      false,
    ],
    [
      "with no healthy NAT and a fallback gateway every node acts (they all agree)",
      {
        settings: {
          ec2Election: true,
          fallbackNatGateway: { default: "nat-1", byZone: {} },
        },
        self: "i-2",
        health: { "i-1": verdict(false), "i-2": verdict(false), "i-3": verdict(false) },
      },
      undefined,
      true,
    ],
  ];
  for (const [name, fields, leader, acting] of cases) {
    await t.step(name, () => {
      const d = decided(decide(input(fields)));
      assert.equal(d.leader, leader, "leader");
      assert.equal(d.acting, acting, "acting");
    });
  }
});

Deno.test("decide() plans", async (t) => {
  await t.step("nothing when every table is on its own zone's healthy NAT", () => {
    const d = decided(decide(input()));
    assert.deepEqual(d.plan, { routes: [], sourceDestChecks: [], recoveries: [] });
    assert.equal(d.idle, false);
  });

  await t.step("tables of an unhealthy NAT move to a healthy one in their zone", () => {
    const d = decided(decide(input({ health: { "i-1": verdict(false) } })));
    assert.deepEqual(targets(d), ["rtb-1->i-2:nat_unhealthy"]);
  });

  await t.step("nothing at all when no NAT is healthy and there is no fallback", () => {
    const d = decided(decide(input({
      instances: [{ ...A1, sourceDestCheck: true }],
      tables: [table(1, "a", 1)],
      health: { "i-1": verdict(false) },
      settings: { recovery: "reboot", recoveryAfterMs: 1000 },
    })));
    assert.equal(d.noHealthyNat, true);
    assert.equal(d.idle, true);
    assert.deepEqual(d.plan, { routes: [], sourceDestChecks: [], recoveries: [] });
  });

  await t.step("the fallback gateway when no NAT is healthy and one is set", () => {
    const d = decided(decide(input({
      tables: [table(1, "a", 1)],
      health: { "i-1": verdict(false), "i-2": verdict(false), "i-3": verdict(false) },
      settings: { fallbackNatGateway: { default: "nat-0f", byZone: {} } },
    })));
    assert.equal(d.idle, false);
    assert.deepEqual(targets(d), ["rtb-1->nat-0f:nat_unhealthy"]);
  });

  await t.step("a source/dest check call only once per trust window", () => {
    const instances = [{ ...A1, sourceDestCheck: true }];
    const tables = [table(1, "a", 1)];
    const first = decided(decide(input({ instances, tables })));
    assert.equal(first.plan.sourceDestChecks.length, 1);
    const memory = rememberApplied(
      freshMemory(),
      {
        routes: [],
        sourceDestChecks: first.plan.sourceDestChecks,
        recoveries: [],
      },
      NOW,
      NOW,
    );
    assert.equal(
      decided(decide(input({ instances, tables, memory }))).plan.sourceDestChecks.length,
      0,
    );
    const later = decided(decide(input({ instances, tables, memory, now: NOW + 10_000 })));
    assert.equal(later.plan.sourceDestChecks.length, 1, "repeated once the window has passed");
  });

  await t.step("a recovery only once per --recovery-after per instance", () => {
    const fields = {
      health: { "i-3": verdict(false, { since: NOW - 120_000, wasHealthy: true }) },
      settings: { recovery: "terminate" as const, recoveryAfterMs: 60_000 },
      self: "i-1",
    };
    const first = decided(decide(input(fields)));
    assert.deepEqual(first.plan.recoveries.map((r) => `${r.action} ${r.instanceId}`), [
      "terminate i-3",
    ]);
    const memory = rememberApplied(
      freshMemory(),
      {
        routes: [],
        sourceDestChecks: [],
        recoveries: first.plan.recoveries,
      },
      NOW,
      NOW,
    );
    assert.deepEqual(decided(decide(input({ ...fields, memory }))).plan.recoveries, []);
  });
});

Deno.test("decide() holds optional moves", async (t) => {
  // i-1 is back in zone a; rtb-1 sits on i-3 in zone b: a zone-preference move.
  const tables = [table(1, "a", 3), table(2, "a", 2), table(3, "b", 3)];
  const back = { "i-1": verdict(true, { wasUnhealthy: true, since: NOW - 120_000 }) };

  await t.step("moves a table back to its zone when nothing holds it", () => {
    assert.deepEqual(targets(decided(decide(input({ tables, health: back })))), [
      "rtb-1->i-1:zone_preference",
    ]);
  });

  await t.step("not within a failback delay of the daemon's start", () => {
    const memory = freshMemory(NOW - 10_000);
    const d = decided(decide(input({ tables, health: back, memory })));
    assert.deepEqual(targets(d), []);
    assert.equal(d.settleAt, NOW - 10_000 + 30_000, "and it decides again when the hold ends");
    const later = freshMemory(NOW - 30_000);
    assert.deepEqual(targets(decided(decide(input({ tables, health: back, memory: later })))), [
      "rtb-1->i-1:zone_preference",
    ]);
  });

  await t.step("not within a failback delay of the table's last change", () => {
    const memory = { ...freshMemory(), changedAt: new Map([["rtb-1", NOW - 5000]]) };
    const d = decided(decide(input({ tables, health: back, memory })));
    assert.deepEqual(targets(d), []);
    assert.equal(d.settleAt, NOW - 5000 + 30_000, "and it decides again when the hold ends");
  });

  await t.step("and says when a recovering NAT settles (settleAt)", () => {
    const recovering = { "i-1": verdict(true, { wasUnhealthy: true, since: NOW - 10_000 }) };
    const d = decided(decide(input({ tables, health: recovering })));
    assert.deepEqual(targets(d), ["rtb-1->i-2:zone_preference"], "recovering i-1 gains no table");
    assert.equal(d.settleAt, NOW - 10_000 + 30_000);
    assert.equal(decided(decide(input({ tables }))).settleAt, undefined);
  });
});

Deno.test("decide() asks for a fresh read when the node has just become the one acting", async (t) => {
  const leader = { settings: { ec2Election: true }, self: "i-1" };
  await t.step("on the view it followed on", () => {
    const memory = { ...freshMemory(), followedOn: 4 };
    assert.equal(decided(decide(input({ ...leader, memory, generation: 4 }))).rediscover, true);
  });
  await t.step("not on a view read after it last followed", () => {
    const memory = { ...freshMemory(), followedOn: 4 };
    assert.equal(decided(decide(input({ ...leader, memory, generation: 5 }))).rediscover, false);
  });
  await t.step("not on its first decision", () => {
    assert.equal(decided(decide(input(leader))).rediscover, false);
  });
  await t.step("never without election", () => {
    const memory = { ...freshMemory(), followedOn: 4 };
    assert.equal(decided(decide(input({ memory, generation: 4 }))).rediscover, false);
  });
});

Deno.test("decide() is deterministic: the same input gives the same decision", () => {
  const fields = {
    health: { "i-1": verdict(false) },
    settings: { ec2Election: true },
    self: "i-2",
  };
  assert.deepEqual(decide(input(fields)), decide(input(fields)));
  const reversed = input(fields);
  const shuffled: DecideInput = {
    ...reversed,
    view: { ...reversed.view, routeTables: [...reversed.view.routeTables].reverse() },
  };
  assert.deepEqual(targets(decided(decide(shuffled))), targets(decided(decide(reversed))));
});

Deno.test("decide() does not retry a write that failed on the same view", () => {
  const fields = { health: { "i-1": verdict(false) }, generation: 3 };
  const memory = { ...freshMemory(), failedWrites: new Map([["rtb-1", 3]]) };
  assert.deepEqual(targets(decided(decide(input({ ...fields, memory })))), []);
  assert.deepEqual(targets(decided(decide(input({ ...fields, memory, generation: 4 })))), [
    "rtb-1->i-2:nat_unhealthy",
  ], "retried once EC2 has been read again");
});

Deno.test("decide() on a suspected split", async (t) => {
  const fight = {
    routeTableId: "rtb-1",
    movedTo: "i-2",
    count: 1,
    at: NOW - 1000,
    until: NOW + 60_000,
  };
  const memory = { ...freshMemory(), fights: new Map([["rtb-1", fight]]) };
  const fields = {
    health: { "i-2": verdict(false, { wasHealthy: true, since: NOW - 600_000 }) },
    tables: [table(1, "a", 2), table(2, "a", 2), table(3, "b", 3)],
    settings: { recovery: "terminate" as const, recoveryAfterMs: 60_000 },
    self: "i-1",
  };

  await t.step("leaves the fought-over table alone and says why", () => {
    const d = decided(decide(input({ ...fields, memory })));
    assert.deepEqual(targets(d), ["rtb-2->i-1:nat_unhealthy"]);
    assert.deepEqual(d.splits, [fight]);
    assert.deepEqual(d.fights, { noticed: [], released: [], healed: [] }, "nothing new here");
    assert.ok(d.skipped.some((s) => s.resourceId === "rtb-1" && s.reason === "split_suspected"));
  });

  await t.step("recovers no instance while it lasts", () => {
    assert.deepEqual(decided(decide(input({ ...fields, memory }))).plan.recoveries, []);
    assert.deepEqual(
      decided(decide(input(fields))).plan.recoveries.map((r) => r.instanceId),
      ["i-2"],
      "without the split the same view recovers i-2",
    );
  });

  await t.step("acts again on the table once the back-off has ended", () => {
    const later = decided(decide(input({ ...fields, memory, now: NOW + 60_000 })));
    assert.deepEqual(targets(later), ["rtb-1->i-1:nat_unhealthy", "rtb-2->i-1:nat_unhealthy"]);
  });
});

Deno.test("decide() writes nothing when it cannot verify any NAT for a reason of its own", () => {
  const notPermitted = verdict(false, { lastError: "not_permitted" });
  const d = decided(decide(input({
    tables: [table(1, "a", 1)],
    health: { "i-1": notPermitted, "i-2": notPermitted, "i-3": notPermitted },
    settings: { fallbackNatGateway: { default: "nat-0f", byZone: {} } },
  })));
  assert.equal(d.viewBroken, true);
  assert.deepEqual(
    d.plan,
    { routes: [], sourceDestChecks: [], recoveries: [] },
    "not even the fallback",
  );
  const refused = decided(decide(input({
    tables: [table(1, "a", 1)],
    health: { "i-1": verdict(false), "i-2": verdict(false), "i-3": verdict(false) },
    settings: { fallbackNatGateway: { default: "nat-0f", byZone: {} } },
  })));
  assert.equal(refused.viewBroken, false, "NATs that refuse are down, not this node");
  assert.deepEqual(targets(refused), ["rtb-1->nat-0f:nat_unhealthy"]);
});

Deno.test("decide() on succession: the next in line makes a change the leader leaves unmade", async (t) => {
  // i-1 leads (its squid answers, its router does not); i-3 just died; rtb-3 must move.
  const fields = {
    settings: { ec2Election: true },
    health: { "i-3": verdict(false) },
    tables: [table(1, "a", 1), table(2, "a", 2), table(3, "b", 3)],
  };
  const since = (at: number) => ({ ...freshMemory(), pending: new Map([["rtb-3", at]]) });

  await t.step("the second in line waits successionMs, then acts on that change only", () => {
    const fresh = decided(decide(input({ ...fields, self: "i-2" })));
    assert.equal(fresh.acting, false);
    assert.deepEqual([...fresh.pending], [["rtb-3", NOW]], "noted as required from now");
    assert.equal(fresh.settleAt, NOW + 6_000, "and it looks again when it would fall to it");
    const early = decided(decide(input({ ...fields, self: "i-2", memory: since(NOW - 5_999) })));
    assert.equal(early.acting, false);
    const due = decided(decide(input({ ...fields, self: "i-2", memory: since(NOW - 6_000) })));
    assert.equal(due.acting, true);
    assert.equal(due.succeeding, true);
    assert.deepEqual(targets(due), ["rtb-3->i-1:nat_unhealthy"]);
    assert.deepEqual(due.plan.sourceDestChecks, [], "nothing but the overdue change");
  });

  await t.step("the third in line waits twice as long", () => {
    const four = [...[1, 2, 3].map((n) => nat(n, n === 3 ? "b" : "a")), nat(4, "b")];
    const third = { ...fields, instances: four, self: "i-4" };
    assert.equal(decided(decide(input({ ...third, memory: since(NOW - 6_000) }))).acting, false);
    assert.equal(decided(decide(input({ ...third, memory: since(NOW - 12_000) }))).acting, true);
  });

  await t.step("a zone or balance move is never taken over from the leader", () => {
    const back = { "i-3": verdict(true, { wasUnhealthy: true, since: NOW - 600_000 }) };
    const d = decided(decide(input({
      settings: { ec2Election: true },
      health: back,
      tables: [table(1, "a", 1), table(2, "a", 2), table(3, "b", 1)],
      self: "i-2",
      memory: { ...freshMemory(), pending: new Map([["rtb-3", NOW - 600_000]]) },
    })));
    assert.deepEqual([...d.pending], [], "rtb-3 only waits for a zone move");
    assert.equal(d.acting, false);
  });

  await t.step("a NAT that is not healthy is not in line", () => {
    const d = decided(decide(input({
      ...fields,
      health: { "i-2": verdict(false), "i-3": verdict(false) },
      self: "i-2",
      memory: since(NOW - 60_000),
    })));
    assert.equal(d.acting, false);
  });
});

Deno.test("protectedTables() names the tables the router must never write", async (t) => {
  const nats = [
    natInstance("i-1", { subnetId: "subnet-nat-a" }),
    natInstance("i-2", { subnetId: "subnet-nat-b" }),
  ];
  const view = (routeTables: RouteTable[], explicitSubnets?: Set<string>) => ({
    instances: nats,
    routeTables,
    health: new Map(),
    generation: 1,
    explicitSubnets,
  });
  const plain = { ...table(1, "a"), subnetIds: ["subnet-private"] };
  const own = { ...table(2, "a"), subnetIds: ["subnet-nat-a"] };
  const main = { ...table(3, "a"), main: true };
  const igw = { ...table(4, "a"), defaultRoute: route({ gatewayId: "igw-0a" }) };
  const cases: [string, RouteTable[], Set<string> | undefined, string[]][] = [
    ["a table of private subnets is fair game", [plain], undefined, []],
    ["a table associated with a NAT's subnet is not", [own], undefined, [
      "rtb-2 serves_nat_subnet",
    ]],
    ["the main table while a NAT subnet follows it is not", [main], new Set(["subnet-nat-a"]), [
      "rtb-3 serves_nat_subnet",
    ]],
    [
      "the main table once every NAT subnet has its own table is",
      [main],
      new Set([
        "subnet-nat-a",
        "subnet-nat-b",
      ]),
      [],
    ],
    ["the main table, unverified, is left alone", [main], undefined, [
      "rtb-3 main_table_unverified",
    ]],
    ["a table whose default route goes to an internet gateway is not", [igw], undefined, [
      "rtb-4 internet_gateway_route",
    ]],
  ];
  for (const [name, tables, explicit, expected] of cases) {
    await t.step(`protectedTables(): ${name}`, () => {
      assert.deepEqual(
        protectedTables(view(tables, explicit)).map((s) => `${s.resourceId} ${s.reason}`),
        expected,
      );
    });
  }
});

Deno.test("decide() notices no fight while this node does not see itself healthy", () => {
  // i-1 wrote rtb-1 to itself; while its own links were down, i-2 moved rtb-1 to i-2.
  const memory = rememberApplied(
    freshMemory(),
    {
      routes: [{
        action: "replace",
        routeTableId: "rtb-1",
        destinationCidrBlock: "0.0.0.0/0",
        from: undefined,
        to: "i-1",
        networkInterfaceId: "eni-1",
        reason: "nat_unhealthy",
      }],
      sourceDestChecks: [],
      recoveries: [],
    },
    NOW - 60_000,
    NOW - 60_000,
  );
  const tables = [table(1, "a", 2), table(2, "a", 2), table(3, "b", 3)];
  const cutOff = { "i-1": verdict(false), "i-2": verdict(false), "i-3": verdict(false) };
  const blind = decided(decide(input({ tables, health: cutOff, memory, self: "i-1" })));
  assert.deepEqual(blind.fights.noticed, [], "every NAT down, itself included: no judgement");
  const seeing = decided(decide(input({
    tables,
    health: { "i-2": verdict(false) },
    memory: { ...memory, previousReadAt: NOW - 5_000 },
    self: "i-1",
  })));
  assert.deepEqual(seeing.fights.noticed.map((f) => f.routeTableId), ["rtb-1"], "a split");
  const unprovable = decided(decide(input({
    tables,
    health: { "i-2": verdict(false) },
    memory: { ...memory, previousReadAt: NOW - 5_000 },
    self: "i-1",
    // i-2 may have been up unseen for (rise + 1) x 5 s: a failback after 1 s fits in that.
    settings: { failbackDelayMs: 1_000, probeIntervalMs: 5_000 },
  })));
  assert.deepEqual(unprovable.fights.noticed, [], "a move that proves nothing is no fight");
  assert.deepEqual(unprovable.splits, []);
});

Deno.test("decide() ends a back-off once the other node's target is healthy here again", () => {
  const fight = {
    routeTableId: "rtb-1",
    movedTo: "i-2",
    count: 1,
    at: NOW - 1000,
    until: NOW + 60_000,
  };
  const memory = { ...freshMemory(), fights: new Map([["rtb-1", fight]]) };
  const tables = [table(1, "a", 2), table(2, "a", 2), table(3, "b", 3)];
  const healed = decided(decide(input({ tables, memory, self: "i-1" })));
  assert.deepEqual(healed.splits, [], "the split is over: i-2 answers here too");
  assert.deepEqual(
    healed.fights.healed,
    ["rtb-1"],
    "and forgotten, so a later crash of i-2 moves rtb-1",
  );
  assert.ok(!healed.skipped.some((s) => s.reason === "split_suspected"));
});

Deno.test("decide() recovers no NAT that another node evidently routes to", () => {
  const fields = {
    health: { "i-3": verdict(false, { since: NOW - 120_000, wasHealthy: true }) },
    settings: { recovery: "terminate" as const, recoveryAfterMs: 60_000 },
    self: "i-1",
  };
  const memory = { ...freshMemory(), contested: new Map([["i-3", NOW - 1000]]) };
  const disputed = decided(decide(input({ ...fields, memory })));
  assert.deepEqual(disputed.plan.recoveries, [], "alive for another node: a dispute");
  assert.deepEqual(disputed.contested, ["i-3"]);
  assert.deepEqual(decided(decide(input(fields))).plan.recoveries.map((r) => r.instanceId), [
    "i-3",
  ]);
});
