/** @module Tests for the `status` report: what it says, and its table and JSON forms. */
import assert from "node:assert/strict";
import {
  decideSettings,
  natInstance,
  route,
  routeTable,
  settledHealth,
} from "../../tests/fixtures.ts";
import { decide as decideCycle, type Decision } from "./decide.ts";
import type { HealthState, InstanceHealth } from "./health.ts";
import { freshMemory } from "./memory.ts";
import type { DefaultRoute, NatInstance, RouteTable } from "../model.ts";
import {
  alignColumns,
  changeCount,
  formatStatusJson,
  formatStatusTable,
  statusReport,
} from "./status.ts";

const NOW = Date.UTC(2026, 10, 21, 10, 0, 0);
const CLUSTER = { vpcId: "vpc-0123abcd", clusterId: "squid" };

function nat(instanceId: string, zone: string, minutesAgo: number): NatInstance {
  return natInstance(instanceId, {
    zone,
    launchTime: NOW - minutesAgo * 60_000,
    sourceDestCheck: true,
  });
}

/** A verdict reached a minute ago, two probes in a row. */
const verdict = (healthy: boolean | undefined, fields: Partial<InstanceHealth> = {}) =>
  settledHealth(healthy, NOW - 60_000, { wasUnhealthy: false, ...fields });

/** What a cycle decides: the real `decide()`, for a node with no history. */
function decide(
  instances: readonly NatInstance[],
  routeTables: readonly RouteTable[],
  health: HealthState,
): Decision {
  const decision = decideCycle({
    view: { instances, routeTables, health, generation: 1 },
    memory: freshMemory(),
    settings: decideSettings(),
    self: undefined,
    now: NOW,
  });
  assert.ok(decision.decided, "every NAT instance of the example has a verdict");
  return decision;
}

const A1 = nat("i-0000000a1", "us-east-1a", 3);
const A2 = nat("i-0000000a2", "us-east-1a", 2);
const B1 = nat("i-0000000b1", "us-east-1b", 1);
const FLEET = [A1, A2, B1];
const table = (id: string, zone: string, defaultRoute?: DefaultRoute): RouteTable =>
  routeTable(id, zone, defaultRoute);
const FRESH_TABLES = [
  table("rtb-0000000a1", "us-east-1a"),
  table("rtb-0000000a2", "us-east-1a"),
  table("rtb-0000000b1", "us-east-1b"),
  table("rtb-0000000b2", "us-east-1b"),
];
const ALL_HEALTHY: HealthState = new Map(FLEET.map((i) => [i.instanceId, verdict(true)]));

Deno.test("statusReport() on a fresh fleet", async (t) => {
  const report = statusReport(decide(FLEET, FRESH_TABLES, ALL_HEALTHY), CLUSTER);

  await t.step("lists each NAT instance with zone, launch time, health and the leader", () => {
    assert.deepEqual(report.nats[0], {
      instanceId: "i-0000000a1",
      zone: "us-east-1a",
      launchTime: "2026-11-21T09:57:00Z",
      leader: true,
      health: "healthy",
      error: null,
    });
    assert.deepEqual(report.nats.map((n) => n.leader), [true, false, false]);
    assert.equal(report.leader, "i-0000000a1", "the oldest healthy instance leads");
  });

  await t.step("gives every route table a desired target in its zone, with the reason", () => {
    for (const row of report.routeTables) {
      assert.equal(row.current, null);
      assert.equal(row.reason, "no_route");
      assert.equal(row.note, null);
      const desired = FLEET.find((i) => i.instanceId === row.desired);
      assert.equal(desired?.zone, row.zone, `${row.routeTableId} stays in its zone`);
    }
  });

  await t.step("plans one create per table and the source/dest checks", () => {
    assert.equal(report.changes.routes.length, 4);
    assert.ok(report.changes.routes.every((c) => c.action === "create" && c.from === null));
    assert.equal(report.changes.sourceDestChecks.length, 3);
    assert.equal(changeCount(report), 7);
  });

  await t.step("the JSON form has the documented keys and round-trips", () => {
    const parsed = JSON.parse(formatStatusJson(report));
    assert.deepEqual(Object.keys(parsed), [
      "vpcId",
      "clusterId",
      "time",
      "leader",
      "nats",
      "routeTables",
      "fallbackGateways",
      "changes",
    ]);
    assert.deepEqual(Object.keys(parsed.routeTables[0]), [
      "routeTableId",
      "zone",
      "current",
      "currentState",
      "desired",
      "reason",
      "note",
    ]);
    assert.deepEqual(Object.keys(parsed.changes), ["routes", "sourceDestChecks", "recoveries"]);
    assert.deepEqual(Object.keys(parsed.changes.routes[0]), [
      "action",
      "routeTableId",
      "from",
      "to",
      "networkInterfaceId",
      "reason",
    ]);
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(report)));
    assert.equal(parsed.time, "2026-11-21T10:00:00Z");
  });
});

Deno.test("statusReport() after a failure", async (t) => {
  const settled = new Map([
    ["rtb-0000000a1", A1],
    ["rtb-0000000a2", A2],
    ["rtb-0000000b1", B1],
    ["rtb-0000000b2", B1],
  ]);
  const tables = FRESH_TABLES.map((t) => ({
    ...t,
    // The router points routes at the primary interface: the report names the instance.
    defaultRoute: route({
      networkInterfaceId: settled.get(t.routeTableId)!.networkInterfaces[0]!.networkInterfaceId,
    }),
  }));
  const sourceDestOff = FLEET.map((i) => ({
    ...i,
    sourceDestCheck: false,
    networkInterfaces: i.networkInterfaces.map((e) => ({ ...e, sourceDestCheck: false })),
  }));

  await t.step("a settled fleet plans nothing", () => {
    const report = statusReport(decide(sourceDestOff, tables, ALL_HEALTHY), CLUSTER);
    assert.equal(changeCount(report), 0);
    assert.ok(report.routeTables.every((r) => r.current === r.desired && r.reason === null));
    assert.match(formatStatusTable(report), /No changes planned/);
  });

  await t.step("an unhealthy NAT shows its error and its tables move with the reason", () => {
    const health: HealthState = new Map([...ALL_HEALTHY, [B1.instanceId, verdict(false)]]);
    const report = statusReport(decide(sourceDestOff, tables, health), CLUSTER);
    assert.equal(report.nats[2]?.health, "unhealthy");
    assert.equal(report.nats[2]?.error, "refused");
    const moved = report.routeTables.filter((r) => r.current === B1.instanceId);
    assert.equal(moved.length, 2);
    assert.ok(moved.every((r) => r.reason === "nat_unhealthy" && r.desired !== B1.instanceId));
    assert.deepEqual(
      report.changes.routes.map((c) => [c.action, c.from, c.reason]),
      [["replace", B1.instanceId, "nat_unhealthy"], ["replace", B1.instanceId, "nat_unhealthy"]],
    );
    const text = formatStatusTable(report);
    assert.match(text, /i-0000000b1 +us-east-1b +2026-11-21T09:59:00Z +unhealthy \(refused\)/);
    assert.match(text, /Changes planned \(2\):/);
  });

  await t.step("a NAT back inside its failback delay shows as recovering", () => {
    const health: HealthState = new Map([
      ...ALL_HEALTHY,
      [B1.instanceId, verdict(true, { wasUnhealthy: true, since: NOW - 1000 })],
    ]);
    const report = statusReport(decide(sourceDestOff, tables, health), CLUSTER);
    assert.equal(report.nats[2]?.health, "recovering");
  });

  await t.step("with no healthy NAT a cycle changes nothing, and the tables say why", () => {
    const health: HealthState = new Map(FLEET.map((i) => [i.instanceId, verdict(false)]));
    const report = statusReport(decide(FLEET, tables, health), CLUSTER);
    assert.equal(report.leader, null);
    assert.equal(changeCount(report), 0, "not even the source/dest checks");
    assert.ok(report.routeTables.every((r) => r.desired === r.current && r.note !== null));
    assert.match(formatStatusTable(report), /leader - /);
  });

  await t.step("a blackholed route shows its state", () => {
    const blackholed = [{
      ...tables[0]!,
      defaultRoute: route({ instanceId: "i-0000000ff", state: "blackhole" }),
    }];
    const report = statusReport(decide(sourceDestOff, blackholed, ALL_HEALTHY), CLUSTER);
    assert.equal(report.routeTables[0]?.currentState, "blackhole");
    assert.equal(report.routeTables[0]?.reason, "blackhole");
    assert.match(formatStatusTable(report), /i-0000000ff \(blackhole\)/);
  });
});

Deno.test("formatStatusTable() aligns every section's columns", () => {
  const text = formatStatusTable(statusReport(decide(FLEET, FRESH_TABLES, ALL_HEALTHY), CLUSTER));
  const sections = text.split("\n\n");
  assert.equal(sections.length, 4, text);
  for (const section of sections.slice(1)) {
    const lines = section.split("\n").filter((line) => !/^(No changes|Changes planned)/.test(line));
    const header = lines[0]!;
    // Each header word starts a column: every row has a cell starting at the same offset.
    const starts = [...header.matchAll(/(?<=^| {2})\S/g)].map((m) => m.index!);
    for (const line of lines.slice(1)) {
      for (const start of starts.slice(1)) {
        assert.match(line[start - 1] ?? "", / /, `column at ${start} in:\n${section}`);
        assert.notEqual(line[start] ?? " ", " ", `column at ${start} in:\n${section}`);
      }
    }
    assert.ok(lines.every((line) => line === line.trimEnd()), "no trailing spaces");
  }
  assert.ok(!text.includes("\u001b"), "no colours");
  assert.match(text, /^\* {2}i-0000000a1/m, "the leader is marked");
});

Deno.test("alignColumns() pads all but the last column", () => {
  assert.deepEqual(alignColumns([["a", "bb", "c"], ["ccc", "d", ""]]), ["a    bb  c", "ccc  d"]);
});
