import assert from "node:assert/strict";
import { route, routeTable, routeTo } from "../../tests/fixtures.ts";
import {
  applyFallback,
  checkFallbackGateways,
  fallbackFor,
  fallbackGatewayError,
  uncoveredTables,
  usableFallback,
} from "./fallback.ts";
import type { Allocation, NatGateway, RouteTable } from "../model.ts";

const FALLBACK = { default: "nat-0000000d", byZone: { a: "nat-0000000a" } };

Deno.test("the NAT gateway fallback", async (t) => {
  await t.step("fallbackFor() prefers the table's zone, else the default", () => {
    assert.equal(fallbackFor(routeTable("rtb-1", "a"), FALLBACK), "nat-0000000a");
    assert.equal(fallbackFor(routeTable("rtb-2", "b"), FALLBACK), "nat-0000000d");
    assert.equal(fallbackFor(routeTable("rtb-3", undefined), FALLBACK), "nat-0000000d");
    assert.equal(
      fallbackFor(routeTable("rtb-4", "b"), { default: undefined, byZone: {} }),
      undefined,
    );
  });

  await t.step("with no candidate at all, every table goes to its gateway", () => {
    const tables = [
      routeTable("rtb-1", "a", routeTo("i-dead")),
      routeTable("rtb-2", "b"),
      routeTable("rtb-3", "b", route({ natGatewayId: "nat-0000000d" })),
    ];
    const { allocations, gatewayChanges } = applyFallback(tables, [], false, FALLBACK);
    assert.deepEqual(allocations, []);
    assert.deepEqual(
      gatewayChanges.map((c) => [c.action, c.routeTableId, c.from, c.natGatewayId, c.reason]),
      [
        ["replace", "rtb-1", "i-dead", "nat-0000000a", "nat_unhealthy"],
        ["create", "rtb-2", undefined, "nat-0000000d", "no_route"],
      ],
      "rtb-3 is already on its gateway",
    );
    assert.ok(gatewayChanges.every((c) => c.networkInterfaceId === undefined));
  });

  await t.step("a table stays on its gateway until a candidate has settled", () => {
    const tables = [routeTable("rtb-1", "a", route({ natGatewayId: "nat-0000000a" }))];
    const allocations: Allocation[] = [{
      routeTableId: "rtb-1",
      instanceId: "i-1",
      reason: "foreign_target",
    }];
    assert.deepEqual(applyFallback(tables, allocations, false, FALLBACK).allocations, []);
    assert.deepEqual(applyFallback(tables, allocations, true, FALLBACK).allocations, allocations);
  });

  await t.step("without the flag nothing changes", () => {
    const allocations: Allocation[] = [{
      routeTableId: "rtb-1",
      instanceId: "i-1",
      reason: "no_route",
    }];
    assert.deepEqual(applyFallback([routeTable("rtb-1", "a")], allocations, false, undefined), {
      allocations,
      gatewayChanges: [],
    });
  });
});

Deno.test("checkFallbackGateways() confirms each configured gateway before it is needed", async (t) => {
  const vpcId = "vpc-0123abcd";
  const good: NatGateway = {
    natGatewayId: "nat-0000000a",
    vpcId,
    state: "available",
    connectivityType: "public",
    subnetId: "subnet-0123abcd",
  };
  const fallback = { default: "nat-0000000a", byZone: { "us-east-1b": "nat-0000000b" } };
  const cases: readonly [string, readonly NatGateway[], string[]][] = [
    ["both available, public, in the VPC: no problem", [good, {
      ...good,
      natGatewayId: "nat-0000000b",
    }], []],
    ["one EC2 does not know: missing", [good], ["nat-0000000b missing"]],
    ["one pending: not available", [good, {
      ...good,
      natGatewayId: "nat-0000000b",
      state: "pending",
    }], ["nat-0000000b not_available"]],
    ["one deleted while running: not available", [good, {
      ...good,
      natGatewayId: "nat-0000000b",
      state: "deleted",
    }], ["nat-0000000b not_available"]],
    ["one in another VPC", [good, {
      ...good,
      natGatewayId: "nat-0000000b",
      vpcId: "vpc-0fedcba9",
    }], ["nat-0000000b other_vpc"]],
    ["one private", [good, {
      ...good,
      natGatewayId: "nat-0000000b",
      connectivityType: "private",
    }], ["nat-0000000b private"]],
    ["both missing, sorted", [], ["nat-0000000a missing", "nat-0000000b missing"]],
  ];
  for (const [name, found, expected] of cases) {
    await t.step(name, () => {
      const problems = checkFallbackGateways(fallback, vpcId, found);
      assert.deepEqual(problems.map((p) => `${p.natGatewayId} ${p.reason}`), expected);
    });
  }

  await t.step("the start error is one line naming the gateway, what EC2 shows, the fix", () => {
    const problems = checkFallbackGateways(fallback, vpcId, [good, {
      ...good,
      natGatewayId: "nat-0000000b",
      state: "pending",
    }]);
    assert.equal(
      fallbackGatewayError(problems, vpcId),
      'Unusable --fallback-nat-gateway "nat-0000000b": it is "pending", not "available"; ' +
        "pass an available public NAT gateway of vpc-0123abcd, or drop --fallback-nat-gateway",
    );
  });

  await t.step("usableFallback() drops unusable gateways, so none is ever written", () => {
    assert.deepEqual(usableFallback(fallback, new Set(["nat-0000000b"])), {
      default: "nat-0000000a",
      byZone: {},
    });
    assert.deepEqual(usableFallback(fallback, new Set(["nat-0000000a"])), {
      default: undefined,
      byZone: { "us-east-1b": "nat-0000000b" },
    });
    assert.equal(usableFallback(fallback, new Set(["nat-0000000a", "nat-0000000b"])), undefined);
    assert.equal(usableFallback(fallback, new Set()), fallback);
  });

  await t.step("applyFallback() with the usable set writes nothing to a deleted gateway", () => {
    const table: RouteTable = {
      routeTableId: "rtb-0000000b",
      zone: "us-east-1b",
      defaultRoute: undefined,
    };
    const { gatewayChanges } = applyFallback(
      [table],
      [],
      false,
      usableFallback(
        { default: undefined, byZone: { "us-east-1b": "nat-0000000b" } },
        new Set(["nat-0000000b"]),
      ),
    );
    assert.deepEqual(gatewayChanges, []);
  });

  await t.step("uncoveredTables() lists tables whose zone has no gateway and no default", () => {
    const tables: RouteTable[] = [
      { routeTableId: "rtb-0000000c", zone: "us-east-1c", defaultRoute: undefined },
      { routeTableId: "rtb-0000000b", zone: "us-east-1b", defaultRoute: undefined },
      { routeTableId: "rtb-0000000d", zone: undefined, defaultRoute: undefined },
    ];
    assert.deepEqual(
      uncoveredTables(tables, { default: undefined, byZone: { "us-east-1b": "nat-0000000b" } }),
      ["rtb-0000000c", "rtb-0000000d"],
    );
    assert.deepEqual(uncoveredTables(tables, fallback), []);
  });
});
