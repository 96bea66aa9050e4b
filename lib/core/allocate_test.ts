/** @module Tests for route table allocation: worked examples, then invariants on generated fleets. */
import assert from "node:assert/strict";
import {
  candidate,
  natInstance,
  primaryEni,
  route,
  routeTable,
  routeTo,
} from "../../tests/fixtures.ts";
import fc from "fast-check";
import {
  allocate,
  type AllocateOptions,
  holdDown,
  interfaceOwners,
  routeInstanceId,
} from "./allocate.ts";
import { compareIds } from "./election.ts";
import type {
  Allocation,
  Candidate,
  DefaultRoute,
  MoveReason,
  NatInstance,
  RouteTable,
} from "../model.ts";
import { applyRouteChanges, planRoutes } from "./plan.ts";

// ---- builders ------------------------------------------------------------------------------

/** `[routeTableId, instanceId, reason]`, the shape the examples are written in. */
type Expected = readonly [string, string, MoveReason | undefined];

const brief = (allocations: readonly Allocation[]): Expected[] =>
  allocations.map(({ routeTableId, instanceId, reason }) => [routeTableId, instanceId, reason]);

// ---- examples ------------------------------------------------------------------------------

Deno.test("allocate()", async (t) => {
  const cases: {
    name: string;
    tables: RouteTable[];
    candidates: Candidate[];
    options?: AllocateOptions;
    expected: Expected[];
  }[] = [
    {
      name: "allocate() keeps a route table on its healthy same-zone NAT",
      tables: [routeTable("rtb-a", "az-a", routeTo("i-a"))],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [["rtb-a", "i-a", undefined]],
    },
    {
      name: "allocate() allocates nothing when no NAT is healthy, leaving routes as they are",
      tables: [routeTable("rtb-a", "az-a", routeTo("i-a")), routeTable("rtb-b", undefined)],
      candidates: [],
      expected: [],
    },
    {
      name: "allocate() allocates nothing when there is no route table",
      tables: [],
      candidates: [candidate("i-a", "az-a")],
      expected: [],
    },
    {
      name: "allocate() gives a table without a default route to its zone's NAT (no_route)",
      tables: [routeTable("rtb-a", "az-a")],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [["rtb-a", "i-a", "no_route"]],
    },
    {
      name: "allocate() rewrites a blackholed route even when it names the chosen instance",
      tables: [routeTable("rtb-a", "az-a", routeTo("i-a", { state: "blackhole" }))],
      candidates: [candidate("i-a", "az-a")],
      expected: [["rtb-a", "i-a", "blackhole"]],
    },
    {
      name:
        "allocate() takes a table over from an internet gateway or NAT gateway (foreign_target)",
      tables: [
        routeTable("rtb-igw", "az-a", route({ gatewayId: "igw-1" })),
        routeTable("rtb-nat", "az-a", route({ natGatewayId: "nat-1" })),
        routeTable("rtb-pcx", "az-a", route({ otherTarget: "pcx-1" })),
      ],
      candidates: [candidate("i-a", "az-a")],
      expected: [
        ["rtb-igw", "i-a", "foreign_target"],
        ["rtb-nat", "i-a", "foreign_target"],
        ["rtb-pcx", "i-a", "foreign_target"],
      ],
    },
    {
      name: "allocate() moves a table off a NAT that is not healthy (nat_unhealthy)",
      tables: [routeTable("rtb-a", "az-a", routeTo("i-dead"))],
      candidates: [candidate("i-a", "az-a")],
      expected: [["rtb-a", "i-a", "nat_unhealthy"]],
    },
    {
      name: "allocate() brings a table back to its own zone once that zone has a NAT again",
      tables: [routeTable("rtb-a", "az-a", routeTo("i-b"))],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [["rtb-a", "i-a", "zone_preference"]],
    },
    {
      name: "allocate() shares a zone's tables within one, moving only the surplus",
      tables: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        routeTable(id, "az-a", routeTo("i-a1"))
      ),
      candidates: [candidate("i-a1", "az-a"), candidate("i-a2", "az-a")],
      expected: [
        ["rtb-1", "i-a1", undefined],
        ["rtb-2", "i-a1", undefined],
        ["rtb-3", "i-a2", "rebalance"],
        ["rtb-4", "i-a2", "rebalance"],
      ],
    },
    {
      name: "allocate() gives a zone's extra table to the NAT already holding more, so none moves",
      tables: [
        routeTable("rtb-1", "az-a", routeTo("i-a2")),
        routeTable("rtb-2", "az-a", routeTo("i-a2")),
        routeTable("rtb-3", "az-a", routeTo("i-a1")),
      ],
      candidates: [candidate("i-a1", "az-a"), candidate("i-a2", "az-a")],
      expected: [
        ["rtb-1", "i-a2", undefined],
        ["rtb-2", "i-a2", undefined],
        ["rtb-3", "i-a1", undefined],
      ],
    },
    {
      name: "allocate() places new tables on the least-loaded NAT, ties by instance id",
      tables: ["rtb-1", "rtb-2", "rtb-3"].map((id) => routeTable(id, "az-a")),
      candidates: [candidate("i-a2", "az-a"), candidate("i-a1", "az-a")],
      expected: [
        ["rtb-1", "i-a1", "no_route"],
        ["rtb-2", "i-a2", "no_route"],
        ["rtb-3", "i-a1", "no_route"],
      ],
    },
    {
      name: "allocate() sends a table whose zone has no NAT to the NAT with the fewest tables",
      tables: [
        routeTable("rtb-a1", "az-a", routeTo("i-a")),
        routeTable("rtb-a2", "az-a", routeTo("i-a")),
        routeTable("rtb-b1", "az-b", routeTo("i-b")),
        routeTable("rtb-c1", "az-c", routeTo("i-gone")),
      ],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [
        ["rtb-a1", "i-a", undefined],
        ["rtb-a2", "i-a", undefined],
        ["rtb-b1", "i-b", undefined],
        ["rtb-c1", "i-b", "nat_unhealthy"],
      ],
    },
    {
      name: "allocate() spreads tables without a zone again after a NAT recovers",
      tables: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        routeTable(id, undefined, routeTo("i-a"))
      ),
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b"), candidate("i-c", "az-c")],
      expected: [
        ["rtb-1", "i-a", undefined],
        ["rtb-2", "i-a", undefined],
        ["rtb-3", "i-b", "rebalance"],
        ["rtb-4", "i-c", "rebalance"],
      ],
    },
    {
      name: "allocate() gives no orphan to a NAT above the fill level",
      tables: [
        routeTable("rtb-a1", "az-a", routeTo("i-a")),
        routeTable("rtb-a2", "az-a", routeTo("i-a")),
        routeTable("rtb-x", undefined, routeTo("i-a")),
      ],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [
        ["rtb-a1", "i-a", undefined],
        ["rtb-a2", "i-a", undefined],
        ["rtb-x", "i-b", "rebalance"],
      ],
    },
    {
      name: "allocate() keeps an orphan on its NAT while that NAT is within its share",
      tables: [
        routeTable("rtb-a1", "az-a", routeTo("i-a")),
        routeTable("rtb-b1", "az-b", routeTo("i-b")),
        routeTable("rtb-x", undefined, routeTo("i-b")),
      ],
      candidates: [candidate("i-a", "az-a"), candidate("i-b", "az-b")],
      expected: [
        ["rtb-a1", "i-a", undefined],
        ["rtb-b1", "i-b", undefined],
        ["rtb-x", "i-b", undefined],
      ],
    },
    {
      name: "allocate() reads a route naming only a network interface as its instance's",
      tables: [routeTable("rtb-a", "az-a", route({ networkInterfaceId: "eni-a" }))],
      candidates: [candidate("i-a", "az-a")],
      options: { instances: [natInstance("i-a", { zone: "az-a" })] },
      expected: [["rtb-a", "i-a", undefined]],
    },
    {
      name: "allocate() treats a route to an unknown network interface as foreign_target",
      tables: [routeTable("rtb-a", "az-a", route({ networkInterfaceId: "eni-elsewhere" }))],
      candidates: [candidate("i-a", "az-a")],
      options: { instances: [natInstance("i-a", { zone: "az-a" })] },
      expected: [["rtb-a", "i-a", "foreign_target"]],
    },
    {
      name: "allocate() gives a recovering NAT no new table while a settled NAT can take it",
      tables: [routeTable("rtb-a", "az-a"), routeTable("rtb-x", undefined)],
      candidates: [candidate("i-a", "az-a", true), candidate("i-b", "az-b")],
      expected: [["rtb-a", "i-b", "no_route"], ["rtb-x", "i-b", "no_route"]],
    },
    {
      name: "allocate() lets a recovering NAT keep the tables it carries",
      tables: [
        routeTable("rtb-a", "az-a", routeTo("i-a")),
        routeTable("rtb-x", undefined, routeTo("i-a")),
      ],
      candidates: [candidate("i-a", "az-a", true), candidate("i-b", "az-b")],
      expected: [["rtb-a", "i-a", undefined], ["rtb-x", "i-b", "rebalance"]],
    },
    {
      name: "allocate() lets a recovering NAT in a served zone keep no more than its share",
      tables: [
        routeTable("rtb-1", "az-a", routeTo("i-a2")),
        routeTable("rtb-2", "az-a", routeTo("i-a2")),
        routeTable("rtb-3", "az-a", routeTo("i-a2")),
        routeTable("rtb-4", "az-a"),
      ],
      candidates: [candidate("i-a1", "az-a"), candidate("i-a2", "az-a", true)],
      expected: [
        ["rtb-1", "i-a2", undefined],
        ["rtb-2", "i-a2", undefined],
        ["rtb-3", "i-a1", "rebalance"],
        ["rtb-4", "i-a1", "no_route"],
      ],
    },
    {
      name: "allocate() treats recovering NATs as settled when no NAT is settled",
      tables: [routeTable("rtb-a", "az-a"), routeTable("rtb-b", "az-b")],
      candidates: [candidate("i-a", "az-a", true), candidate("i-b", "az-b", true)],
      expected: [["rtb-a", "i-a", "no_route"], ["rtb-b", "i-b", "no_route"]],
    },
    {
      name: "allocate() answers in route table id order whatever the input order",
      tables: [routeTable("rtb-2", "az-a"), routeTable("rtb-1", "az-a")],
      candidates: [candidate("i-a", "az-a")],
      expected: [["rtb-1", "i-a", "no_route"], ["rtb-2", "i-a", "no_route"]],
    },
  ];
  for (const { name, tables, candidates, options, expected } of cases) {
    await t.step(
      name,
      () => assert.deepEqual(brief(allocate(tables, candidates, options)), expected),
    );
  }
});

Deno.test("routeInstanceId()", async (t) => {
  const owners = interfaceOwners([natInstance("i-a", { zone: "az-a" })]);
  await t.step("routeInstanceId() prefers the route's instance id", () => {
    assert.equal(
      routeInstanceId(route({ instanceId: "i-b", networkInterfaceId: "eni-a" }), owners),
      "i-b",
    );
  });
  await t.step("routeInstanceId() maps an interface to the instance owning it", () => {
    assert.equal(routeInstanceId(route({ networkInterfaceId: "eni-a" }), owners), "i-a");
  });
  await t.step("routeInstanceId() names no instance for a gateway route", () => {
    assert.equal(routeInstanceId(route({ gatewayId: "igw-1" }), owners), undefined);
  });
});

// ---- properties ----------------------------------------------------------------------------

interface Fleet {
  readonly instances: NatInstance[];
  readonly candidates: Candidate[];
  readonly tables: RouteTable[];
}

const ZONES = ["az-a", "az-b", "az-c", "az-d", "az-e", "az-f"];

/** What a generated table's default route points at; `index` picks the instance, if any. */
interface TargetSpec {
  readonly kind: "none" | "gateway" | "gone" | "instance" | "blackhole" | "interface";
  readonly index: number;
}

const targetArbitrary: fc.Arbitrary<TargetSpec> = fc.record({
  kind: fc.constantFrom(
    ...["none", "gateway", "gone", "instance", "instance", "blackhole", "interface"] as const,
  ),
  index: fc.nat(11),
});

const fleetArbitrary: fc.Arbitrary<Fleet> = fc.integer({ min: 1, max: 6 }).chain((zoneCount) => {
  const zone = fc.integer({ min: 0, max: zoneCount - 1 }).map((index) => ZONES[index] ?? "az-a");
  return fc.record({
    natSpecs: fc.array(
      fc.record({ zone, health: fc.constantFrom("settled", "settled", "recovering", "unhealthy") }),
      { maxLength: 12 },
    ),
    tableSpecs: fc.array(
      fc.record({ zone: fc.option(zone, { nil: undefined }), target: targetArbitrary }),
      { maxLength: 60 },
    ),
  }).map(({ natSpecs, tableSpecs }) => {
    const instances = natSpecs.map((spec, index) =>
      natInstance(`i-${String(index).padStart(2, "0")}`, { zone: spec.zone })
    );
    const candidates = natSpecs.flatMap((spec, index) =>
      spec.health === "unhealthy" ? [] : [
        candidate(`i-${String(index).padStart(2, "0")}`, spec.zone, spec.health === "recovering"),
      ]
    );
    const tables = tableSpecs.map((spec, index) =>
      routeTable(
        `rtb-${String(index).padStart(3, "0")}`,
        spec.zone,
        currentRoute(spec.target, instances),
      )
    );
    return { instances, candidates, tables };
  });
});

function currentRoute(
  target: TargetSpec,
  instances: readonly NatInstance[],
): DefaultRoute | undefined {
  if (target.kind === "none") return undefined;
  if (target.kind === "gateway") return route({ gatewayId: "igw-1" });
  if (target.kind === "gone") return routeTo("i-gone");
  const picked = instances[target.index % Math.max(instances.length, 1)];
  if (picked === undefined) return route({ natGatewayId: "nat-1" });
  if (target.kind === "blackhole") return routeTo(picked.instanceId, { state: "blackhole" });
  if (target.kind === "interface") {
    return route({ networkInterfaceId: primaryEni(picked.instanceId) });
  }
  return routeTo(picked.instanceId);
}

/** The spec's view of a fleet, computed independently of the allocator's internals. */
function facts(fleet: Fleet) {
  const settled = fleet.candidates.filter((candidate) => !candidate.recovering);
  const gaining = new Set(
    (settled.length > 0 ? settled : fleet.candidates).map((c) => c.instanceId),
  );
  const servedZones = new Set(
    fleet.candidates.filter((c) => gaining.has(c.instanceId)).map((c) => c.zone),
  );
  const candidateIds = new Set(fleet.candidates.map((c) => c.instanceId));
  const owners = interfaceOwners(fleet.instances);
  const holder = (rt: RouteTable): string | undefined => {
    const current = rt.defaultRoute;
    if (current === undefined || current.state === "blackhole") return undefined;
    const instanceId = routeInstanceId(current, owners);
    return instanceId !== undefined && candidateIds.has(instanceId) ? instanceId : undefined;
  };
  const zoneOf = new Map(fleet.candidates.map((c) => [c.instanceId, c.zone]));
  const isOrphan = (rt: RouteTable) => rt.zone === undefined || !servedZones.has(rt.zone);
  return { gaining, servedZones, holder, zoneOf, isOrphan };
}

const allocateFleet = (fleet: Fleet) =>
  allocate(fleet.tables, fleet.candidates, { instances: fleet.instances });

const countBy = <T>(items: readonly T[], key: (item: T) => string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};

/** Applies the allocation the way the leader would, and returns the route tables after it. */
function applied(fleet: Fleet, allocations: readonly Allocation[]): RouteTable[] {
  const plan = planRoutes(fleet.tables, allocations, fleet.instances);
  assert.deepEqual(plan.skipped, []);
  return applyRouteChanges(fleet.tables, plan.changes);
}

/** A group of tables shared by the same members: one served zone, or the orphans. */
interface Group {
  readonly label: string;
  readonly tables: RouteTable[];
  readonly members: string[];
  /** The load balance is measured in: the group's own count for a zone, the total for orphans. */
  readonly load: (instanceId: string) => number;
}

function groups(fleet: Fleet, allocations: readonly Allocation[]): Group[] {
  const { servedZones, isOrphan } = facts(fleet);
  const target = new Map(allocations.map((a) => [a.routeTableId, a.instanceId]));
  const count = (tables: readonly RouteTable[]) =>
    countBy(tables, (rt) => target.get(rt.routeTableId) ?? "none");
  const totals = count(fleet.tables);
  const zoneGroups = [...servedZones].map((zone): Group => {
    const tables = fleet.tables.filter((rt) => rt.zone === zone);
    const counts = count(tables);
    return {
      label: zone,
      tables,
      members: fleet.candidates.filter((c) => c.zone === zone).map((c) => c.instanceId),
      load: (instanceId) => counts.get(instanceId) ?? 0,
    };
  });
  const orphans: Group = {
    label: "orphans",
    tables: fleet.tables.filter(isOrphan),
    members: fleet.candidates.map((c) => c.instanceId),
    load: (instanceId) => totals.get(instanceId) ?? 0,
  };
  return [...zoneGroups, orphans];
}

/** Whether a member may still take a table of the group: it may gain, or keeps less than it had. */
function canTakeMore(fleet: Fleet, group: Group, allocations: readonly Allocation[]) {
  const { gaining, holder } = facts(fleet);
  const target = new Map(allocations.map((a) => [a.routeTableId, a.instanceId]));
  const held = countBy(
    group.tables.filter((rt) => holder(rt) !== undefined),
    (rt) => holder(rt) ?? "",
  );
  const got = countBy(group.tables, (rt) => target.get(rt.routeTableId) ?? "none");
  return (instanceId: string) =>
    gaining.has(instanceId) || (got.get(instanceId) ?? 0) < (held.get(instanceId) ?? 0);
}

Deno.test("allocate() properties", async (t) => {
  const runs = { numRuns: 200 };

  await t.step(
    "allocate() gives every table a healthy NAT when one exists, and none otherwise",
    () => {
      fc.assert(
        fc.property(fleetArbitrary, (fleet) => {
          const allocations = allocateFleet(fleet);
          if (fleet.candidates.length === 0) return assert.deepEqual(allocations, []);
          const ids = fleet.tables.map((rt) => rt.routeTableId).sort(compareIds);
          assert.deepEqual(allocations.map((a) => a.routeTableId), ids);
          const candidateIds = new Set(fleet.candidates.map((c) => c.instanceId));
          for (const a of allocations) {
            assert.ok(candidateIds.has(a.instanceId), `${a.instanceId} is not healthy`);
          }
        }),
        runs,
      );
    },
  );

  await t.step("allocate() keeps a table in its zone whenever that zone has a settled NAT", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const { servedZones, zoneOf } = facts(fleet);
        const zoneOfTable = new Map(fleet.tables.map((rt) => [rt.routeTableId, rt.zone]));
        for (const a of allocateFleet(fleet)) {
          const zone = zoneOfTable.get(a.routeTableId);
          if (zone !== undefined && servedZones.has(zone)) {
            assert.equal(zoneOf.get(a.instanceId), zone, `${a.routeTableId} left ${zone}`);
          }
        }
      }),
      runs,
    );
  });

  await t.step(
    "allocate() balances every group within one: a zone's NATs by zone tables, orphan receivers by total",
    () => {
      fc.assert(
        fc.property(fleetArbitrary, (fleet) => {
          const allocations = allocateFleet(fleet);
          for (const group of groups(fleet, allocations)) {
            const canTake = canTakeMore(fleet, group, allocations);
            const receivers = new Set(
              allocations.filter((a) =>
                group.tables.some((rt) => rt.routeTableId === a.routeTableId)
              )
                .map((a) => a.instanceId),
            );
            // A zone's members all take part; among orphans only the receivers are levelled.
            const levelled = group.label === "orphans" ? [...receivers] : group.members;
            for (const high of levelled) {
              for (const low of group.members.filter(canTake)) {
                assert.ok(
                  group.load(low) >= group.load(high) - 1,
                  `${group.label}: ${low} (${group.load(low)}) could take from ${high} (${
                    group.load(high)
                  })`,
                );
              }
            }
          }
        }),
        runs,
      );
    },
  );

  await t.step("allocate() gives a recovering NAT only tables it already carries", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const { gaining, holder } = facts(fleet);
        const holderOf = new Map(fleet.tables.map((rt) => [rt.routeTableId, holder(rt)]));
        for (const a of allocateFleet(fleet)) {
          if (gaining.has(a.instanceId)) continue;
          assert.equal(
            holderOf.get(a.routeTableId),
            a.instanceId,
            `${a.instanceId} gained ${a.routeTableId}`,
          );
        }
      }),
      runs,
    );
  });

  await t.step("allocate() moves no table off a healthy NAT unless balance requires it", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const allocations = allocateFleet(fleet);
        const { holder } = facts(fleet);
        const target = new Map(allocations.map((a) => [a.routeTableId, a.instanceId]));
        for (const group of groups(fleet, allocations)) {
          const moved = group.tables.filter((rt) => target.get(rt.routeTableId) !== holder(rt));
          const losers = moved.flatMap((rt) => {
            const loser = holder(rt);
            return loser !== undefined && group.members.includes(loser) ? [loser] : [];
          });
          const gainers = moved.map((rt) => target.get(rt.routeTableId) ?? "none");
          for (const loser of losers) {
            for (const gainer of gainers.filter((id) => id !== loser)) {
              assert.ok(
                group.load(loser) >= group.load(gainer),
                `${group.label}: moving a table back from ${gainer} to ${loser} would keep balance`,
              );
            }
          }
        }
      }),
      runs,
    );
  });

  await t.step("allocate() moves exactly the minimum a settled zone's quotas imply", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const allocations = allocateFleet(fleet);
        const { holder, gaining } = facts(fleet);
        const target = new Map(allocations.map((a) => [a.routeTableId, a.instanceId]));
        for (const group of groups(fleet, allocations).filter((g) => g.label !== "orphans")) {
          if (!group.members.every((id) => gaining.has(id))) continue;
          const held = group.tables.map(holder).filter((id) => id !== undefined);
          const heldBy = countBy(held, (id) => id);
          const floor = Math.floor(group.tables.length / group.members.length);
          const remainder = group.tables.length % group.members.length;
          const surplus = group.members.map((id) => Math.max(0, (heldBy.get(id) ?? 0) - floor));
          const minimum = surplus.reduce((a, b) => a + b, 0) -
            Math.min(remainder, surplus.filter((s) => s > 0).length);
          const moves = group.tables.filter((rt) => {
            const current = holder(rt);
            return current !== undefined && group.members.includes(current) &&
              target.get(rt.routeTableId) !== current;
          }).length;
          assert.equal(moves, minimum, `${group.label} moved ${moves} tables, ${minimum} needed`);
        }
      }),
      runs,
    );
  });

  await t.step("allocate() leaves the routes it just wrote alone (stable, idempotent)", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const first = allocateFleet(fleet);
        const again = allocateFleet({ ...fleet, tables: applied(fleet, first) });
        assert.deepEqual(again, first.map((a) => ({ ...a, reason: undefined })));
      }),
      runs,
    );
  });

  await t.step("allocate() gives the same answer for the same fleet in any input order", () => {
    const shuffled = fleetArbitrary.chain((fleet) =>
      fc.tuple(
        fc.constant(fleet),
        fc.record({
          instances: fc.shuffledSubarray(fleet.instances, exactly(fleet.instances)),
          candidates: fc.shuffledSubarray(fleet.candidates, exactly(fleet.candidates)),
          tables: fc.shuffledSubarray(fleet.tables, exactly(fleet.tables)),
        }),
      )
    );
    fc.assert(
      fc.property(shuffled, ([fleet, reordered]) => {
        assert.deepEqual(allocateFleet(reordered), allocateFleet(fleet));
      }),
      runs,
    );
  });
});

const exactly = (items: readonly unknown[]) => ({
  minLength: items.length,
  maxLength: items.length,
});

Deno.test("hold-down against ping-pong", async (t) => {
  const tableOn = (id: string, instanceId: string | undefined): RouteTable =>
    routeTable(id, "a", instanceId === undefined ? undefined : routeTo(instanceId));

  await t.step(
    "holdDown() keeps a held table on its healthy NAT instead of a zone or balance move",
    () => {
      const tables = [
        tableOn("rtb-1", "i-b"),
        tableOn("rtb-2", "i-b"),
        tableOn("rtb-3", undefined),
      ];
      const allocations = [
        { routeTableId: "rtb-1", instanceId: "i-a", reason: "zone_preference" as const },
        { routeTableId: "rtb-2", instanceId: "i-a", reason: "nat_unhealthy" as const },
        { routeTableId: "rtb-3", instanceId: "i-a", reason: "no_route" as const },
      ];
      assert.deepEqual(holdDown(allocations, tables, new Set(["rtb-1", "rtb-2", "rtb-3"])), [
        { routeTableId: "rtb-1", instanceId: "i-b", reason: undefined },
        allocations[1],
        allocations[2],
      ]);
      assert.deepEqual(holdDown(allocations, tables, new Set()), allocations);
    },
  );
});
