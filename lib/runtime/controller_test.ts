import assert from "node:assert/strict";
import {
  decideSettings,
  type FakeEc2,
  fakeEc2,
  natInstance,
  routeTable,
  writtenRoute,
} from "../../tests/fixtures.ts";
import { realClock } from "../adapters/clock.ts";
import { Controller, type ControllerSettings } from "./controller.ts";
import { Ec2Error } from "../adapters/ec2.ts";
import { memoryLogger } from "../adapters/log.ts";
import type { NatInstance, RouteTable } from "../model.ts";
import type { Probe } from "../adapters/probe.ts";

const SETTINGS: ControllerSettings = {
  ...decideSettings({ fall: 1, rise: 1, failbackDelayMs: 0 }),
  vpcId: "vpc-0123abcd",
  clusterId: "squid",
  intervalMs: 5000,
  probeIntervalMs: 10,
  public: false,
  dryRun: false,
};

function nat(n: number, zone: string, launchTime = n * 1000): NatInstance {
  return natInstance(`i-0000000${n}`, { zone, launchTime, privateIp: `127.0.1.${n}` });
}

function table(n: number, zone: string | undefined, target?: number): RouteTable {
  return routeTable(
    `rtb-0000000${n}`,
    zone,
    target === undefined ? undefined : writtenRoute(`i-0000000${target}`),
  );
}

/** EC2 as the fixture fakes it, answering with `instances` and `tables`. */
function ec2Of(instances: NatInstance[], tables: RouteTable[]): FakeEc2 {
  return fakeEc2({ instances, routeTables: tables });
}

const probeWith = (unhealthy: Set<string>): Probe => ({ instanceId }) =>
  Promise.resolve({
    instanceId,
    healthy: !unhealthy.has(instanceId),
    error: unhealthy.has(instanceId) ? "refused" : undefined,
    latencyMs: 1,
  });

function controller(
  fake: FakeEc2,
  options: { unhealthy?: Set<string>; settings?: Partial<ControllerSettings>; self?: string } = {},
) {
  const log = memoryLogger();
  const c = new Controller({ ...SETTINGS, ...options.settings }, {
    ec2: fake,
    probe: probeWith(options.unhealthy ?? new Set()),
    log,
    clock: realClock,
    self: options.self,
  });
  return { c, log };
}

Deno.test("Controller.runOnce()", async (t) => {
  await t.step("creates missing default routes toward same-zone NATs", async () => {
    const fake = ec2Of([nat(1, "a"), nat(2, "b")], [table(1, "a"), table(2, "b", 1)]);
    const { c, log } = controller(fake);
    const outcome = await c.runOnce();
    assert.equal(outcome.ok, true);
    assert.deepEqual(fake.writes, [
      "CreateRoute rtb-00000001 -> eni-00000001",
      "ReplaceRoute rtb-00000002 -> eni-00000002",
    ]);
    assert.equal(log.lines.filter((l) => l.includes("route.created")).length, 1);
    assert.match(
      log.lines.find((l) => l.includes("route.replaced")) ?? "",
      /reason=zone_preference/,
    );
  });

  await t.step("changes nothing when every route is already right", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a", 1)]);
    const { c } = controller(fake);
    assert.equal((await c.runOnce()).ok, true);
    assert.deepEqual(fake.writes, []);
  });

  await t.step("in --dry-run logs each change and writes nothing", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a"), table(2, "a", 9)]);
    const { c, log } = controller(fake, { settings: { dryRun: true } });
    assert.equal((await c.runOnce()).ok, true);
    assert.deepEqual(fake.writes, []);
    assert.equal(log.lines.filter((l) => /route\.planned dry_run=true/.test(l)).length, 2);
  });

  await t.step("answers RouteAlreadyExists with ReplaceRoute", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a")]);
    fake.failNext(
      "CreateRoute rtb-00000001",
      new Ec2Error("CreateRoute", "RouteAlreadyExists", "exists", 400),
    );
    const { c } = controller(fake);
    assert.equal((await c.runOnce()).ok, true);
    assert.deepEqual(fake.writes, ["ReplaceRoute rtb-00000001 -> eni-00000001"]);
  });

  await t.step("answers ReplaceRoute's missing-route error with CreateRoute", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a", 9)]);
    fake.failNext(
      "ReplaceRoute rtb-00000001",
      new Ec2Error(
        "ReplaceRoute",
        "InvalidParameterValue",
        "There is no route defined for '0.0.0.0/0' in the route table. Use CreateRoute instead.",
        400,
      ),
    );
    const { c } = controller(fake);
    assert.equal((await c.runOnce()).ok, true);
    assert.deepEqual(fake.writes, ["CreateRoute rtb-00000001 -> eni-00000001"]);
  });

  await t.step("goes on after one failed change and reports the cycle failed", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a"), table(2, "a")]);
    fake.failNext(
      "CreateRoute rtb-00000001",
      new Ec2Error("CreateRoute", "UnauthorizedOperation", "not allowed", 403),
    );
    const { c, log } = controller(fake);
    assert.equal((await c.runOnce()).ok, false);
    assert.deepEqual(fake.writes, ["CreateRoute rtb-00000002 -> eni-00000001"]);
    assert.match(
      log.lines.join("\n"),
      /route\.failed route_table_id=rtb-00000001 .*code=UnauthorizedOperation/,
    );
  });

  await t.step("moves tables off an unhealthy NAT to the least-loaded healthy one", async () => {
    const fake = ec2Of([nat(1, "a"), nat(2, "b"), nat(3, "c")], [
      table(1, "a", 1),
      table(2, "a", 1),
      table(3, "b", 2),
    ]);
    const { c } = controller(fake, { unhealthy: new Set(["i-00000001"]) });
    await c.runOnce();
    assert.deepEqual(fake.writes, [
      "ReplaceRoute rtb-00000001 -> eni-00000003",
      "ReplaceRoute rtb-00000002 -> eni-00000002",
    ]);
  });

  await t.step("leaves routes alone and logs an error when no NAT is healthy", async () => {
    const fake = ec2Of([nat(1, "a")], [table(1, "a", 1)]);
    const { c, log } = controller(fake, { unhealthy: new Set(["i-00000001"]) });
    assert.equal((await c.runOnce()).ok, false);
    assert.deepEqual(fake.writes, []);
    assert.match(log.lines.join("\n"), /ERROR allocation\.no_healthy_nat route_tables=1/);
  });

  await t.step("as a follower writes nothing and logs whom it follows", async () => {
    const fake = ec2Of([nat(1, "a"), nat(2, "a")], [table(1, "a")]);
    const { c, log } = controller(fake, { settings: { ec2Election: true }, self: "i-00000002" });
    const outcome = await c.runOnce();
    assert.equal(outcome.leader, "i-00000001");
    assert.deepEqual(fake.writes, []);
    assert.match(
      log.lines.join("\n"),
      /leader\.changed leader=i-00000001 self=i-00000002 role=follower/,
    );
  });

  await t.step("takes over when it sees the older leader unhealthy", async () => {
    const fake = ec2Of([nat(1, "a"), nat(2, "a")], [table(1, "a", 1)]);
    const { c } = controller(fake, {
      settings: { ec2Election: true },
      self: "i-00000002",
      unhealthy: new Set(["i-00000001"]),
    });
    assert.equal((await c.runOnce()).leader, "i-00000002");
    assert.deepEqual(fake.writes, ["ReplaceRoute rtb-00000001 -> eni-00000002"]);
  });

  await t.step("disables a source/destination check that is still on", async () => {
    const withCheck = { ...nat(1, "a"), sourceDestCheck: true };
    const fake = ec2Of([withCheck], [table(1, "a", 1)]);
    const { c } = controller(fake);
    await c.runOnce();
    assert.deepEqual(fake.writes, ["DisableSourceDestCheck i-00000001"]);
  });
});

Deno.test("a route write that fails transiently is retried; a client error is not", async () => {
  const fake = ec2Of([nat(1, "a")], [table(1, "a"), table(2, "a")]);
  fake.failNext(
    "CreateRoute rtb-00000001",
    new Ec2Error("CreateRoute", "TypeError", "connection reset", undefined),
  );
  fake.failNext(
    "CreateRoute rtb-00000002",
    new Ec2Error("CreateRoute", "InvalidRouteTableID.NotFound", "gone", 400),
  );
  const { c, log } = controller(fake);
  assert.equal((await c.runOnce()).ok, false, "the client error fails the cycle");
  assert.deepEqual(fake.writes, ["CreateRoute rtb-00000001 -> eni-00000001"]);
  assert.match(
    log.lines.join("\n"),
    /route\.failed route_table_id=rtb-00000002 .*code=InvalidRouteTableID\.NotFound/,
  );
});

Deno.test("a node that takes over again sees the other leader's writes, not its own old ones", async () => {
  const tables = [table(1, "a", 1)];
  const fake = ec2Of([nat(1, "a"), nat(2, "a")], tables);
  const unhealthy = new Set(["i-00000001"]);
  const log = memoryLogger();
  const c = new Controller({ ...SETTINGS, ec2Election: true }, {
    ec2: fake,
    probe: probeWith(unhealthy),
    log,
    clock: realClock,
    self: "i-00000002",
  });
  const cycle = async () => {
    assert.ok(await c.discover());
    await c.probeRound();
    await c.reconcile("discovery");
  };
  await cycle(); // i-1 down: i-2 leads and takes rtb-1
  assert.deepEqual(fake.writes, ["ReplaceRoute rtb-00000001 -> eni-00000002"]);
  unhealthy.clear(); // i-1 back: it leads again and moves rtb-1 back behind our back
  tables[0] = table(1, "a", 1);
  await cycle();
  await cycle();
  unhealthy.add("i-00000001"); // i-1 down again, within the write-trust window
  await cycle();
  assert.deepEqual(fake.writes, [
    "ReplaceRoute rtb-00000001 -> eni-00000002",
    "ReplaceRoute rtb-00000001 -> eni-00000002",
  ], "the second takeover moves rtb-1 at once");
});

Deno.test("a follower that becomes leader reads EC2 once more before it writes, whatever woke it", async () => {
  const fake = ec2Of([nat(1, "a"), nat(2, "a")], [table(1, "a", 1)]);
  let describes = 0;
  const counted: FakeEc2 = {
    ...fake,
    describeInstances: (q) => {
      describes++;
      return fake.describeInstances(q);
    },
  };
  const unhealthy = new Set<string>();
  const log = memoryLogger();
  const c = new Controller({ ...SETTINGS, ec2Election: true }, {
    ec2: counted,
    probe: probeWith(unhealthy),
    log,
    clock: realClock,
    self: "i-00000002",
  });
  assert.ok(await c.discover());
  await c.probeRound();
  assert.equal((await c.reconcile("discovery")).acted, false, "i-2 follows i-1");
  unhealthy.add("i-00000001");
  await c.probeRound();
  const outcome = await c.reconcile("health");
  assert.equal(outcome.acted, true);
  assert.equal(describes, 2, "one Describe for the first view, one more before taking over");
  assert.deepEqual(fake.writes, ["ReplaceRoute rtb-00000001 -> eni-00000002"]);
  assert.equal(c.snapshot().decision?.acting, true, "the latest decision is kept for metrics");
  const again = await c.reconcile("settle");
  assert.equal(describes, 2, "a leader that stays leader does not read again");
  assert.deepEqual(again.plan.routes, [], "and finds nothing left to do");
});

Deno.test("a node whose table another node keeps moving to a NAT it cannot reach backs off", async () => {
  // i-1 leads in its own view (it cannot reach i-2); i-2, which can reach nobody's port
  // either, leads in its own view and keeps moving rtb-1 to itself.
  const tables = [table(1, "a")];
  const fake = ec2Of([nat(1, "a"), nat(2, "a")], tables);
  const log = memoryLogger();
  let now = 1_000_000;
  // A failback delay long enough for a move to prove a split (see decide()).
  const c = new Controller({ ...SETTINGS, ec2Election: true, failbackDelayMs: 1000 }, {
    ec2: fake,
    probe: probeWith(new Set(["i-00000002"])),
    log,
    clock: { now: () => now, sleep: () => Promise.resolve() },
    self: "i-00000001",
  });
  const cycle = async () => {
    now += 6_000; // a little more than --interval
    assert.ok(await c.discover());
    await c.probeRound();
    return await c.reconcile("discovery");
  };
  await cycle();
  assert.deepEqual(fake.writes, ["CreateRoute rtb-00000001 -> eni-00000001"]);
  tables[0] = table(1, "a", 2); // the other node's write
  await cycle(); // within the write-trust window, a read that differs may just be stale
  const outcome = await cycle();
  assert.deepEqual(outcome.plan.routes, [], "it does not fight back");
  assert.match(
    log.lines.join("\n"),
    /WARN split\.suspected route_table_id=rtb-00000001 moved_to=i-00000002 fights=1 backoff_s=240/,
  );
  await cycle();
  const said = (pattern: RegExp) => log.lines.filter((l) => pattern.test(l)).length;
  assert.equal(said(/split\.suspected route_table_id=/), 1, "said once");
  assert.equal(
    said(/recovery\.held instance_id=i-00000002 reason=routed_while_unhealthy/),
    1,
    "and that i-2 is alive for another node, so never recovered",
  );
  assert.deepEqual(fake.writes, ["CreateRoute rtb-00000001 -> eni-00000001"], "one write in all");
  assert.equal(c.snapshot().decision?.splits.length, 1, "the decision says so (metrics, status)");
});
