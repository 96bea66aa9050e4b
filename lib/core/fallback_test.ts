import assert from "node:assert/strict";
import { route, routeTable, routeTo } from "../../tests/fixtures.ts";
import { applyFallback, fallbackFor } from "./fallback.ts";
import type { Allocation } from "../model.ts";

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
