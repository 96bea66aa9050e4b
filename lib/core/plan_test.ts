/** @module Tests for route and source/destination-check planning, and predicted route tables. */
import assert from "node:assert/strict";
import { route } from "../../tests/fixtures.ts";
import { allocate } from "./allocate.ts";
import type {
  Allocation,
  Candidate,
  DefaultRoute,
  MoveReason,
  NatInstance,
  NetworkInterface,
  RouteChange,
  RouteTable,
  SourceDestCheckChange,
} from "../model.ts";
import { applyRouteChanges, planRoutes, planSourceDestChecks } from "./plan.ts";

function table(
  routeTableId: string,
  zone: string | undefined,
  defaultRoute?: DefaultRoute,
): RouteTable {
  return { routeTableId, zone, defaultRoute };
}

const eni = (
  networkInterfaceId: string,
  deviceIndex: number,
  sourceDestCheck = false,
): NetworkInterface => ({
  networkInterfaceId,
  deviceIndex,
  sourceDestCheck,
});

function instance(
  instanceId: string,
  fields: Partial<Pick<NatInstance, "zone" | "sourceDestCheck" | "networkInterfaces">> = {},
): NatInstance {
  return {
    instanceId,
    zone: "az-a",
    launchTime: 0,
    privateIp: "127.0.0.1",
    publicIp: undefined,
    sourceDestCheck: false,
    networkInterfaces: [eni(`eni-${instanceId}`, 0)],
    ...fields,
  };
}

const move = (
  routeTableId: string,
  instanceId: string,
  reason: MoveReason | undefined,
): Allocation => ({
  routeTableId,
  instanceId,
  reason,
});

function change(
  routeTableId: string,
  fields: Pick<RouteChange, "action" | "from" | "to" | "reason"> & { networkInterfaceId?: string },
): RouteChange {
  return {
    routeTableId,
    destinationCidrBlock: "0.0.0.0/0",
    networkInterfaceId: `eni-${fields.to}`,
    ...fields,
  };
}

Deno.test("planRoutes()", async (t) => {
  const instances = [
    instance("i-a"),
    instance("i-multi", { networkInterfaces: [eni("eni-m1", 1), eni("eni-m0", 0)] }),
    instance("i-secondary", { networkInterfaces: [eni("eni-s1", 1)] }),
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
      tables: [table("rtb-1", "az-a", route({ instanceId: "i-a" }))],
      allocations: [move("rtb-1", "i-a", undefined)],
      changes: [],
    },
    {
      name: "planRoutes() creates a default route where there is none",
      tables: [table("rtb-1", "az-a")],
      allocations: [move("rtb-1", "i-a", "no_route")],
      changes: [
        change("rtb-1", { action: "create", from: undefined, to: "i-a", reason: "no_route" }),
      ],
    },
    {
      name: "planRoutes() replaces a blackholed route, naming its old instance as from",
      tables: [table("rtb-1", "az-a", route({ instanceId: "i-a", state: "blackhole" }))],
      allocations: [move("rtb-1", "i-a", "blackhole")],
      changes: [
        change("rtb-1", { action: "replace", from: "i-a", to: "i-a", reason: "blackhole" }),
      ],
    },
    {
      name: "planRoutes() replaces a route to a gateway, naming the gateway as from",
      tables: [
        table("rtb-1", "az-a", route({ gatewayId: "igw-1" })),
        table("rtb-2", "az-a", route({ natGatewayId: "nat-1", networkInterfaceId: "eni-nat" })),
        table("rtb-3", "az-a", route({ networkInterfaceId: "eni-x" })),
        table("rtb-4", "az-a", route({ otherTarget: "pcx-1" })),
      ],
      allocations: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        move(id, "i-a", "foreign_target")
      ),
      changes: [
        change("rtb-1", { action: "replace", from: "igw-1", to: "i-a", reason: "foreign_target" }),
        change("rtb-2", { action: "replace", from: "nat-1", to: "i-a", reason: "foreign_target" }),
        change("rtb-3", { action: "replace", from: "eni-x", to: "i-a", reason: "foreign_target" }),
        change("rtb-4", { action: "replace", from: "pcx-1", to: "i-a", reason: "foreign_target" }),
      ],
    },
    {
      name: "planRoutes() targets a multi-interface instance's primary interface (device index 0)",
      tables: [table("rtb-1", "az-a", route({ instanceId: "i-dead" }))],
      allocations: [move("rtb-1", "i-multi", "nat_unhealthy")],
      changes: [
        change("rtb-1", {
          action: "replace",
          from: "i-dead",
          to: "i-multi",
          networkInterfaceId: "eni-m0",
          reason: "nat_unhealthy",
        }),
      ],
    },
    {
      name: "planRoutes() skips a table whose instance has no primary network interface",
      tables: [table("rtb-1", "az-a")],
      allocations: [move("rtb-1", "i-secondary", "no_route")],
      changes: [],
      skipped: [
        'rtb-1: Cannot route to instance "i-secondary": it has no primary network interface (device index 0)',
      ],
    },
    {
      name: "planRoutes() skips a table allocated to an instance it was not given",
      tables: [table("rtb-1", "az-a")],
      allocations: [move("rtb-1", "i-unknown", "no_route")],
      changes: [],
      skipped: [
        'rtb-1: Cannot route to instance "i-unknown": it is not among the discovered instances',
      ],
    },
    {
      name: "planRoutes() skips an allocation for a route table it was not given",
      tables: [],
      allocations: [move("rtb-9", "i-a", "no_route")],
      changes: [],
      skipped: ['rtb-9: Cannot route "rtb-9": it is not among the discovered route tables'],
    },
    {
      name: "planRoutes() lists changes in route table id order",
      tables: [table("rtb-2", "az-a"), table("rtb-1", "az-a")],
      allocations: [move("rtb-2", "i-a", "no_route"), move("rtb-1", "i-a", "no_route")],
      changes: [
        change("rtb-1", { action: "create", from: undefined, to: "i-a", reason: "no_route" }),
        change("rtb-2", { action: "create", from: undefined, to: "i-a", reason: "no_route" }),
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
      instances: [instance("i-a", { sourceDestCheck: true })],
      expected: [{ instanceId: "i-a", networkInterfaceId: undefined }],
    },
    {
      name: "planSourceDestChecks() leaves an instance whose check is already off",
      instances: [instance("i-a")],
      expected: [],
    },
    {
      name:
        "planSourceDestChecks() turns the check off per interface on a multi-interface instance",
      instances: [
        instance("i-m", {
          sourceDestCheck: true,
          networkInterfaces: [
            eni("eni-m0", 0, true),
            eni("eni-m1", 1, false),
            eni("eni-m2", 2, true),
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
      instances: [instance("i-a", { sourceDestCheck: true, networkInterfaces: [] })],
      expected: [{ instanceId: "i-a", networkInterfaceId: undefined }],
    },
    {
      name: "planSourceDestChecks() lists changes by instance id, then device index",
      instances: [
        instance("i-b", { sourceDestCheck: true }),
        instance("i-a", { networkInterfaces: [eni("eni-a2", 2, true), eni("eni-a1", 1, true)] }),
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
    table("rtb-2", "az-a", route({ gatewayId: "igw-1", state: "blackhole" })),
    table("rtb-1", "az-a", route({ instanceId: "i-a" })),
    table("rtb-3", undefined),
  ];
  const changes = [
    change("rtb-2", { action: "replace", from: "igw-1", to: "i-a", reason: "blackhole" }),
    change("rtb-3", { action: "create", from: undefined, to: "i-b", reason: "no_route" }),
  ];
  const after = applyRouteChanges(tables, changes);

  await t.step(
    "applyRouteChanges() points a changed route at the instance's interface, active",
    () => {
      assert.deepEqual(
        after[0],
        table("rtb-2", "az-a", route({ instanceId: "i-a", networkInterfaceId: "eni-i-a" })),
      );
      assert.deepEqual(
        after[2],
        table("rtb-3", undefined, route({ instanceId: "i-b", networkInterfaceId: "eni-i-b" })),
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
    instance("i-a", { zone: "az-a" }),
    instance("i-b", { zone: "az-b" }),
    instance("i-c", { zone: "az-b" }),
  ];
  const healthy: Candidate[] = instances.map(({ instanceId, zone }) => ({
    instanceId,
    zone,
    recovering: false,
  }));
  const cases: { name: string; tables: RouteTable[]; candidates: Candidate[] }[] = [
    {
      name: "allocate() → applyRouteChanges() → allocate() plans nothing for a mixed fleet",
      tables: [
        table("rtb-1", "az-a"),
        table("rtb-2", "az-b", route({ instanceId: "i-a", state: "blackhole" })),
        table("rtb-3", "az-b", route({ gatewayId: "igw-1" })),
        table("rtb-4", undefined, route({ networkInterfaceId: "eni-i-c" })),
        table("rtb-5", "az-z", route({ instanceId: "i-dead" })),
        table("rtb-6", undefined, route({ instanceId: "i-b" })),
        table("rtb-7", undefined),
      ],
      candidates: healthy,
    },
    {
      name: "allocate() → applyRouteChanges() → allocate() plans nothing after a NAT fails",
      tables: ["rtb-1", "rtb-2", "rtb-3", "rtb-4"].map((id) =>
        table(id, "az-b", route({ instanceId: "i-b" }))
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
