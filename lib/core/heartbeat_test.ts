/** @module Tests for the heartbeat's summary and log fields. */
import assert from "node:assert/strict";
import { instanceHealth, natInstance, networkInterface, route } from "../../tests/fixtures.ts";
import type { InstanceHealth } from "./health.ts";
import { heartbeatFields, heartbeatSummary, type HeartbeatView } from "./heartbeat.ts";
import type { NatInstance, RouteTable } from "../model.ts";

const nat = (instanceId: string, eni: string): NatInstance =>
  natInstance(instanceId, {
    zone: "us-east-1a",
    networkInterfaces: [networkInterface(eni, 0)],
  });

const verdict = (healthy: boolean | undefined): InstanceHealth => instanceHealth(healthy);

const table = (routeTableId: string, defaultRoute: RouteTable["defaultRoute"]): RouteTable => ({
  routeTableId,
  zone: undefined,
  defaultRoute,
});

const VIEW: HeartbeatView = {
  instances: [nat("i-a", "eni-a"), nat("i-b", "eni-b"), nat("i-c", "eni-c")],
  health: new Map([["i-a", verdict(true)], ["i-b", verdict(false)], ["i-c", verdict(undefined)]]),
  leader: "i-a",
  routeTables: [
    table("rtb-1", route({ instanceId: "i-a" })), // on a healthy NAT
    table("rtb-2", route({ networkInterfaceId: "eni-a" })), // on it through its interface
    table("rtb-3", route({ instanceId: "i-b" })), // on an unhealthy NAT
    table("rtb-4", route({ instanceId: "i-c" })), // on a NAT without a verdict
    table("rtb-5", route({ instanceId: "i-a", state: "blackhole" })), // blackholed
    table("rtb-6", route({ natGatewayId: "nat-0123abcd" })), // not on a NAT instance
    table("rtb-7", undefined), // no default route
  ],
};

Deno.test("heartbeatSummary()", async (t) => {
  await t.step("heartbeatSummary() counts NATs, healthy NATs and tables on a healthy NAT", () => {
    assert.deepEqual(heartbeatSummary(VIEW, 5_000), {
      leader: "i-a",
      natInstances: 3,
      healthyNats: 1,
      routeTables: 7,
      tablesOnTarget: 2,
      lastOkCycleAt: 5_000,
    });
  });
  await t.step("heartbeatSummary() of an empty view has no leader and zero counts", () => {
    const empty = { instances: [], routeTables: [], health: new Map(), leader: undefined };
    assert.deepEqual(heartbeatSummary(empty, undefined), {
      leader: undefined,
      natInstances: 0,
      healthyNats: 0,
      routeTables: 0,
      tablesOnTarget: 0,
      lastOkCycleAt: undefined,
    });
  });
});

Deno.test("heartbeatFields()", async (t) => {
  await t.step("heartbeatFields() gives the last good cycle as a time and an age", () => {
    const at = Date.UTC(2026, 10, 21, 10, 0, 0);
    assert.deepEqual(heartbeatFields(heartbeatSummary(VIEW, at), at + 4_900), {
      leader: "i-a",
      nat_instances: 3,
      healthy_nats: 1,
      route_tables: 7,
      tables_on_target: 2,
      last_ok_cycle: "2026-11-21T10:00:00.000Z",
      last_ok_cycle_age_s: 4,
    });
  });
  await t.step("heartbeatFields() leaves the cycle fields empty before any good cycle", () => {
    const fields = heartbeatFields(heartbeatSummary(VIEW, undefined), 1_000);
    assert.equal(fields.last_ok_cycle, undefined);
    assert.equal(fields.last_ok_cycle_age_s, undefined);
  });
});
