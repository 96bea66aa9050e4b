/** @module Tests for route and source/destination-check planning, and predicted route tables. */
import assert from "node:assert/strict";
import {
  allocation,
  candidate,
  natInstance,
  networkInterface,
  route,
  routeChange,
  routeTable,
  routeTo,
  writtenRoute,
} from "../../tests/fixtures.ts";
import { allocate } from "./allocate.ts";
import type {
  Allocation,
  Candidate,
  NatInstance,
  RouteChange,
  RouteTable,
  SourceDestCheckChange,
} from "../model.ts";
import { applyRouteChanges, planRoutes, planSourceDestChecks } from "./plan.ts";

Deno.test("planRoutes()", async (t) => {
  const instances = [
    natInstance("i-a"),
    natInstance("i-multi", {
      networkInterfaces: [networkInterface("eni-m1", 1), networkInterface("eni-m0", 0)],
    }),
    natInstance("i-secondary", { networkInterfaces: [networkInterface("eni-s1", 1)] }),
  ];
  const cases: {
    name: string;
    tables: RouteTable[];
    allocations: Allocation[];
    changes: RouteChange[];
    skipped?: string[];
  }[] = [
    {
      name: "planRoutes() plans nothing for allocations that stay",
      tables: [routeTable("rtb-1", "az-a", routeTo("i-a"))],
      allocations: [allocation("rtb-1", "i-a", undefined)],
      changes: [],
    },
    {
      name: "planRoutes() creates a default route where there is none",
      tables: [routeTable("rtb-1", "az-a")],
      allocations: [allocation("rtb-1", "i-a", "no_route")],
      changes: [
        routeChange("rtb-1", "i-a", { action: "create", from: undefined, reason: "no_route" }),
      ],
    },
    {
      name: "planRoutes() replaces a blackholed route, naming its old instance as from",
      tables: [routeTable("rtb-1", "az-a", routeTo("i-a", { state: "blackhole" }))],
      allocations: [allocation("rtb-1", "i-a", "blackhole")],
      changes: [
        routeChange("rtb-1", "i-a", { action: "replace", from: "i-a", reason: "blackhole" }),
      ],
    },
    {
      name: "planRoutes() replaces a route to a gateway, naming the gateway as from",
      tables: [
        routeTable("rtb-1", "az-a", route({ gatewayId: "igw-1" })),
        routeTable(
          "rtb-2",
          "az-a",
          route({ natGatewayId: "nat-1", networkInterfaceId: "eni-nat" }),
        ),
        routeTable("rtb-3", "az-a", route({ networkInterfaceId: "eni-x" })),
        routeTable("rtb-4", "az-a", route({ otherTarget: "pcx-1" })),
      ],
      allocations: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        allocation(id, "i-a", "foreign_target")
      ),
      changes: [
        routeChange("rtb-1", "i-a", { action: "replace", from: "igw-1", reason: "foreign_target" }),
        routeChange("rtb-2", "i-a", { action: "replace", from: "nat-1", reason: "foreign_target" }),
        routeChange("rtb-3", "i-a", { action: "replace", from: "eni-x", reason: "foreign_target" }),
        routeChange("rtb-4", "i-a", { action: "replace", from: "pcx-1", reason: "foreign_target" }),
      ],
    },
    {
      name: "planRoutes() targets a multi-interface instance's primary interface (device index 0)",
      tables: [routeTable("rtb-1", "az-a", routeTo("i-dead"))],
      allocations: [allocation("rtb-1", "i-multi", "nat_unhealthy")],
      changes: [
        routeChange("rtb-1", "i-multi", {
          action: "replace",
          from: "i-dead",
          networkInterfaceId: "eni-m0",
          reason: "nat_unhealthy",
        }),
      ],
    },
    {
      name: "planRoutes() skips a table whose instance has no primary network interface",
      tables: [routeTable("rtb-1", "az-a")],
      allocations: [allocation("rtb-1", "i-secondary", "no_route")],
      changes: [],
      skipped: [
        'rtb-1: Cannot route to instance "i-secondary": it has no primary network interface (device index 0)',
      ],
    },
    {
      name: "planRoutes() skips a table allocated to an instance it was not given",
      tables: [routeTable("rtb-1", "az-a")],
      allocations: [allocation("rtb-1", "i-unknown", "no_route")],
      changes: [],
      skipped: [
        'rtb-1: Cannot route to instance "i-unknown": it is not among the discovered instances',
      ],
    },
    {
      name: "planRoutes() skips an allocation for a route table it was not given",
      tables: [],
      allocations: [allocation("rtb-9", "i-a", "no_route")],
      changes: [],
      skipped: ['rtb-9: Cannot route "rtb-9": it is not among the discovered route tables'],
    },
    {
      name: "planRoutes() lists changes in route table id order",
      tables: [routeTable("rtb-2", "az-a"), routeTable("rtb-1", "az-a")],
      allocations: [allocation("rtb-2", "i-a", "no_route"), allocation("rtb-1", "i-a", "no_route")],
      changes: [
        routeChange("rtb-1", "i-a", { action: "create", from: undefined, reason: "no_route" }),
        routeChange("rtb-2", "i-a", { action: "create", from: undefined, reason: "no_route" }),
      ],
    },
  ];
  for (const { name, tables, allocations, changes, skipped = [] } of cases) {
    await t.step(name, () => {
      const plan = planRoutes(tables, allocations, instances);
      assert.deepEqual(plan.changes, changes);
      assert.deepEqual(plan.skipped.map((s) => `${s.resourceId}: ${s.reason}`), skipped);
    });
  }
});

Deno.test("planSourceDestChecks()", async (t) => {
  const cases: { name: string; instances: NatInstance[]; expected: SourceDestCheckChange[] }[] = [
    {
      name:
        "planSourceDestChecks() turns the check off on a single-interface instance that has it on",
      instances: [natInstance("i-a", { sourceDestCheck: true })],
      expected: [{ instanceId: "i-a", networkInterfaceId: undefined }],
    },
    {
      name: "planSourceDestChecks() leaves an instance whose check is already off",
      instances: [natInstance("i-a")],
      expected: [],
    },
    {
      name:
        "planSourceDestChecks() turns the check off per interface on a multi-interface instance",
      instances: [
        natInstance("i-m", {
          sourceDestCheck: true,
          networkInterfaces: [
            networkInterface("eni-m0", 0, true),
            networkInterface("eni-m1", 1, false),
            networkInterface("eni-m2", 2, true),
          ],
        }),
      ],
      expected: [
        { instanceId: "i-m", networkInterfaceId: "eni-m0" },
        { instanceId: "i-m", networkInterfaceId: "eni-m2" },
      ],
    },
    {
      name:
        "planSourceDestChecks() uses the instance-level call for an instance without interfaces",
      instances: [natInstance("i-a", { sourceDestCheck: true, networkInterfaces: [] })],
      expected: [{ instanceId: "i-a", networkInterfaceId: undefined }],
    },
    {
      name: "planSourceDestChecks() lists changes by instance id, then device index",
      instances: [
        natInstance("i-b", { sourceDestCheck: true }),
        natInstance("i-a", {
          networkInterfaces: [
            networkInterface("eni-a2", 2, true),
            networkInterface("eni-a1", 1, true),
          ],
        }),
      ],
      expected: [
        { instanceId: "i-a", networkInterfaceId: "eni-a1" },
        { instanceId: "i-a", networkInterfaceId: "eni-a2" },
        { instanceId: "i-b", networkInterfaceId: undefined },
      ],
    },
  ];
  for (const { name, instances, expected } of cases) {
    await t.step(name, () => assert.deepEqual(planSourceDestChecks(instances), expected));
  }
});

Deno.test("applyRouteChanges()", async (t) => {
  const tables = [
    routeTable("rtb-2", "az-a", route({ gatewayId: "igw-1", state: "blackhole" })),
    routeTable("rtb-1", "az-a", routeTo("i-a")),
    routeTable("rtb-3", undefined),
  ];
  const changes = [
    routeChange("rtb-2", "i-a", { action: "replace", from: "igw-1", reason: "blackhole" }),
    routeChange("rtb-3", "i-b", { action: "create", from: undefined, reason: "no_route" }),
  ];
  const after = applyRouteChanges(tables, changes);

  await t.step(
    "applyRouteChanges() points a changed route at the instance's interface, active",
    () => {
      assert.deepEqual(
        after[0],
        routeTable("rtb-2", "az-a", writtenRoute("i-a")),
      );
      assert.deepEqual(
        after[2],
        routeTable("rtb-3", undefined, writtenRoute("i-b")),
      );
    },
  );
  await t.step(
    "applyRouteChanges() leaves unchanged route tables as they were, in their order",
    () => {
      assert.equal(after[1], tables[1]);
      assert.deepEqual(after.map((rt) => rt.routeTableId), ["rtb-2", "rtb-1", "rtb-3"]);
    },
  );
});

Deno.test("route planning is idempotent", async (t) => {
  const instances = [
    natInstance("i-a", { zone: "az-a" }),
    natInstance("i-b", { zone: "az-b" }),
    natInstance("i-c", { zone: "az-b" }),
  ];
  const healthy = instances.map(({ instanceId, zone }) => candidate(instanceId, zone));
  const cases: { name: string; tables: RouteTable[]; candidates: Candidate[] }[] = [
    {
      name: "allocate() → applyRouteChanges() → allocate() plans nothing for a mixed fleet",
      tables: [
        routeTable("rtb-1", "az-a"),
        routeTable("rtb-2", "az-b", routeTo("i-a", { state: "blackhole" })),
        routeTable("rtb-3", "az-b", route({ gatewayId: "igw-1" })),
        routeTable("rtb-4", undefined, route({ networkInterfaceId: "eni-c" })),
        routeTable("rtb-5", "az-z", routeTo("i-dead")),
        routeTable("rtb-6", undefined, routeTo("i-b")),
        routeTable("rtb-7", undefined),
      ],
      candidates: healthy,
    },
    {
      name: "allocate() → applyRouteChanges() → allocate() plans nothing after a NAT fails",
      tables: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        routeTable(id, "az-b", routeTo("i-b"))
      ),
      candidates: healthy.filter((candidate) => candidate.instanceId !== "i-b"),
    },
  ];
  for (const { name, tables, candidates } of cases) {
    await t.step(name, () => {
      const first = planRoutes(tables, allocate(tables, candidates, { instances }), instances);
      assert.notDeepEqual(first.changes, []);
      const after = applyRouteChanges(tables, first.changes);
      assert.deepEqual(planRoutes(after, allocate(after, candidates, { instances }), instances), {
        changes: [],
        skipped: [],
      });
    });
  }
});
