/** @module Tests for the router's metrics: what the hooks count and what a scrape derives. */
import assert from "node:assert/strict";
import { instanceHealth, natInstance, route } from "../../tests/fixtures.ts";
import type { HealthState, InstanceHealth } from "../core/health.ts";
import { createRouterMetrics, type MetricsView } from "./metrics.ts";
import type { NatInstance, RouteTable } from "../model.ts";

const nat = (instanceId: string, zone: string): NatInstance => natInstance(instanceId, { zone });
const health = (healthy: boolean | undefined): InstanceHealth => instanceHealth(healthy);

const A = nat("i-0000000a", "az-a");
const B = nat("i-0000000b", "az-b");
const C = nat("i-0000000c", "az-b");
const TABLES: RouteTable[] = [
  { routeTableId: "rtb-00000001", zone: "az-a", defaultRoute: route({ instanceId: A.instanceId }) },
  // Only an interface, as routes created by the router look: the owner is the instance.
  {
    routeTableId: "rtb-00000002",
    zone: "az-b",
    defaultRoute: route({ networkInterfaceId: "eni-0000000b" }),
  },
  { routeTableId: "rtb-00000003", zone: "az-b", defaultRoute: route({ gatewayId: "igw-1" }) },
  { routeTableId: "rtb-00000004", zone: "az-b", defaultRoute: undefined },
];

function view(fields: Partial<MetricsView> = {}): MetricsView {
  const state: HealthState = new Map([
    [A.instanceId, health(true)],
    [B.instanceId, health(false)],
    [C.instanceId, health(undefined)],
  ]);
  return {
    instances: [A, B, C],
    routeTables: TABLES,
    health: state,
    decision: { leader: A.instanceId, acting: true, splits: [], contested: [], gateways: [] },
    ...fields,
  };
}

/** The sample lines of one metric family (`name`, `name_bucket`, ...). */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((line) =>
    line.startsWith(`${name}{`) || line.startsWith(`${name} `)
  );
}

Deno.test("router metrics before the controller exists", async (t) => {
  const metrics = createRouterMetrics({ version: "1.2.3" });
  const text = metrics.render(undefined);
  await t.step("build info names the version", () => {
    assert.deepEqual(samples(text, "aws_nat_router_build_info"), [
      'aws_nat_router_build_info{version="1.2.3"} 1',
    ]);
  });
  await t.step("every route change reason starts at 0", () => {
    assert.deepEqual(samples(text, "aws_nat_router_route_changes_total"), [
      'aws_nat_router_route_changes_total{reason="blackhole"} 0',
      'aws_nat_router_route_changes_total{reason="foreign_target"} 0',
      'aws_nat_router_route_changes_total{reason="nat_draining"} 0',
      'aws_nat_router_route_changes_total{reason="nat_unhealthy"} 0',
      'aws_nat_router_route_changes_total{reason="no_route"} 0',
      'aws_nat_router_route_changes_total{reason="rebalance"} 0',
      'aws_nat_router_route_changes_total{reason="zone_preference"} 0',
    ]);
  });
  await t.step("no leader, no NAT health, not leading, no success yet", () => {
    assert.deepEqual(samples(text, "aws_nat_router_leader"), []);
    assert.deepEqual(samples(text, "aws_nat_router_nat_healthy"), []);
    assert.deepEqual(samples(text, "aws_nat_router_is_leader"), ["aws_nat_router_is_leader 0"]);
    assert.deepEqual(samples(text, "aws_nat_router_last_success_timestamp_seconds"), [
      "aws_nat_router_last_success_timestamp_seconds 0",
    ]);
  });
  await t.step("every metric has HELP and TYPE lines and the aws_nat_router_ prefix", () => {
    const types = text.split("\n").filter((line) => line.startsWith("# TYPE "));
    const helps = text.split("\n").filter((line) => line.startsWith("# HELP "));
    assert.equal(types.length, 16);
    assert.equal(helps.length, types.length);
    for (const line of types) {
      const [, , name, type] = line.split(" ");
      assert.match(name!, /^aws_nat_router_/);
      if (type === "counter") assert.match(name!, /_total$/, `${name} is a counter`);
      if (name!.endsWith("_total")) assert.equal(type, "counter", `${name} ends in _total`);
    }
  });
});

Deno.test("router metrics count what the hooks report", async (t) => {
  const metrics = createRouterMetrics({ version: "1.2.3" });
  metrics.observer.probed({
    instanceId: A.instanceId,
    healthy: true,
    error: undefined,
    latencyMs: 3,
  });
  metrics.observer.probed({
    instanceId: B.instanceId,
    healthy: false,
    error: "refused",
    latencyMs: 0.4,
  });
  metrics.observer.probed({
    instanceId: B.instanceId,
    healthy: false,
    error: "refused",
    latencyMs: 1,
  });
  for (const routeTableId of ["rtb-00000002", "rtb-00000004"]) {
    metrics.observer.routeChanged({
      action: "replace",
      routeTableId,
      destinationCidrBlock: "0.0.0.0/0",
      from: B.instanceId,
      to: A.instanceId,
      networkInterfaceId: "eni-0000000a",
      reason: "nat_unhealthy",
    });
  }
  metrics.onEc2Call("DescribeRouteTables", "ok");
  metrics.onEc2Call("DescribeRouteTables", "RequestLimitExceeded");
  metrics.onEc2Call("ReplaceRoute", "ok");
  metrics.onEc2Call("ReplaceRoute", "ok");
  metrics.observer.cycle({ durationMs: 40, ok: true, at: 1_700_000_000_500 });
  metrics.observer.cycle({ durationMs: 2000, ok: false, at: 1_700_000_009_000 });
  const text = metrics.render(view());

  await t.step("probes by instance and result", () => {
    assert.deepEqual(samples(text, "aws_nat_router_probes_total"), [
      'aws_nat_router_probes_total{instance_id="i-0000000a",result="ok"} 1',
      'aws_nat_router_probes_total{instance_id="i-0000000b",result="refused"} 2',
    ]);
  });
  await t.step("probe latency in seconds, per instance", () => {
    const b = samples(text, "aws_nat_router_probe_duration_seconds_bucket")
      .filter((line) => line.includes("i-0000000b"));
    assert.ok(
      b.includes(
        'aws_nat_router_probe_duration_seconds_bucket{instance_id="i-0000000b",le="0.001"} 2',
      ),
    );
    assert.deepEqual(samples(text, "aws_nat_router_probe_duration_seconds_count"), [
      'aws_nat_router_probe_duration_seconds_count{instance_id="i-0000000a"} 1',
      'aws_nat_router_probe_duration_seconds_count{instance_id="i-0000000b"} 2',
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_probe_duration_seconds_sum"), [
      'aws_nat_router_probe_duration_seconds_sum{instance_id="i-0000000a"} 0.003',
      'aws_nat_router_probe_duration_seconds_sum{instance_id="i-0000000b"} 0.0014',
    ]);
  });
  await t.step("route changes by reason", () => {
    assert.ok(
      samples(text, "aws_nat_router_route_changes_total")
        .includes('aws_nat_router_route_changes_total{reason="nat_unhealthy"} 2'),
    );
  });
  await t.step("EC2 calls by action and outcome, throttles included", () => {
    assert.deepEqual(samples(text, "aws_nat_router_ec2_calls_total"), [
      'aws_nat_router_ec2_calls_total{action="DescribeRouteTables",outcome="RequestLimitExceeded"} 1',
      'aws_nat_router_ec2_calls_total{action="DescribeRouteTables",outcome="ok"} 1',
      'aws_nat_router_ec2_calls_total{action="ReplaceRoute",outcome="ok"} 2',
    ]);
  });
  await t.step("cycles: duration, result, and the last success only moves on success", () => {
    assert.deepEqual(samples(text, "aws_nat_router_cycle_duration_seconds_count"), [
      "aws_nat_router_cycle_duration_seconds_count 2",
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_cycle_duration_seconds_sum"), [
      "aws_nat_router_cycle_duration_seconds_sum 2.04",
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_cycles_total"), [
      'aws_nat_router_cycles_total{result="failed"} 1',
      'aws_nat_router_cycles_total{result="ok"} 1',
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_last_success_timestamp_seconds"), [
      "aws_nat_router_last_success_timestamp_seconds 1700000000.5",
    ]);
  });
});

Deno.test("router metrics derive the view's state at each scrape", async (t) => {
  await t.step("NAT health per instance and zone; none before a verdict", () => {
    const text = createRouterMetrics({ version: "1" }).render(view());
    assert.deepEqual(samples(text, "aws_nat_router_nat_healthy"), [
      'aws_nat_router_nat_healthy{instance_id="i-0000000a",zone="az-a"} 1',
      'aws_nat_router_nat_healthy{instance_id="i-0000000b",zone="az-b"} 0',
    ]);
  });
  await t.step("route table targets: an interface counts as its instance; others by id", () => {
    const text = createRouterMetrics({ version: "1" }).render(view());
    assert.deepEqual(samples(text, "aws_nat_router_route_table_target"), [
      'aws_nat_router_route_table_target{route_table_id="rtb-00000001",instance_id="i-0000000a",target="i-0000000a"} 1',
      'aws_nat_router_route_table_target{route_table_id="rtb-00000002",instance_id="i-0000000b",target="eni-0000000b"} 1',
      'aws_nat_router_route_table_target{route_table_id="rtb-00000003",instance_id="",target="igw-1"} 1',
    ]);
  });
  await t.step("a series disappears when the view no longer has it", () => {
    const metrics = createRouterMetrics({ version: "1" });
    metrics.render(view());
    const text = metrics.render(
      view({
        decision: { leader: B.instanceId, acting: false, splits: [], contested: [], gateways: [] },
        instances: [B],
        routeTables: [],
      }),
    );
    assert.deepEqual(samples(text, "aws_nat_router_leader"), [
      'aws_nat_router_leader{instance_id="i-0000000b"} 1',
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_nat_healthy"), [
      'aws_nat_router_nat_healthy{instance_id="i-0000000b",zone="az-b"} 0',
    ]);
    assert.deepEqual(samples(text, "aws_nat_router_route_table_target"), []);
  });
  // Whether this node acts is the controller's decision (core/decide.ts), read as it is.
  const cases: [string, Partial<MetricsView>, number][] = [
    ["the decision acts", {}, 1],
    [
      "the decision does not act",
      {
        decision: { leader: A.instanceId, acting: false, splits: [], contested: [], gateways: [] },
      },
      0,
    ],
    ["a decision with no leader that acts (fallback)", {
      decision: { leader: undefined, acting: true, splits: [], contested: [], gateways: [] },
    }, 1],
    ["no decision yet", { decision: undefined }, 0],
  ];
  for (const [name, fields, expected] of cases) {
    await t.step(`is_leader: ${name}`, () => {
      const text = createRouterMetrics({ version: "1" }).render(view(fields));
      assert.deepEqual(samples(text, "aws_nat_router_is_leader"), [
        `aws_nat_router_is_leader ${expected}`,
      ]);
    });
  }
});

Deno.test("router metrics count the route tables left alone on a suspected split", () => {
  const fight = { routeTableId: "rtb-1", movedTo: "i-b", count: 1, at: 0, until: 60_000 };
  const metrics = createRouterMetrics({ version: "1" });
  assert.deepEqual(samples(metrics.render(view()), "aws_nat_router_split_suspected"), [
    "aws_nat_router_split_suspected 0",
  ]);
  const split = view({
    decision: { leader: A.instanceId, acting: true, splits: [fight], contested: [], gateways: [] },
  });
  assert.deepEqual(samples(metrics.render(split), "aws_nat_router_split_suspected"), [
    "aws_nat_router_split_suspected 1",
  ]);
});

Deno.test("router metrics name the NATs another router routes to while this one cannot", () => {
  const metrics = createRouterMetrics({ version: "1" });
  assert.deepEqual(samples(metrics.render(view()), "aws_nat_router_nat_contested"), []);
  const contested = view({
    decision: { leader: A.instanceId, acting: true, splits: [], contested: ["i-b"], gateways: [] },
  });
  assert.deepEqual(samples(metrics.render(contested), "aws_nat_router_nat_contested"), [
    'aws_nat_router_nat_contested{instance_id="i-b"} 1',
  ]);
});

Deno.test("router metrics say which fallback gateways are usable", () => {
  const metrics = createRouterMetrics({ version: "1" });
  const problem = { natGatewayId: "nat-0b", reason: "missing" as const, detail: "gone" };
  const text = metrics.render(view({
    decision: {
      leader: A.instanceId,
      acting: true,
      splits: [],
      contested: [],
      gateways: [{ natGatewayId: "nat-0a", problem: undefined }, {
        natGatewayId: "nat-0b",
        problem,
      }],
    },
  }));
  assert.deepEqual(samples(text, "aws_nat_router_fallback_gateway_ok"), [
    'aws_nat_router_fallback_gateway_ok{nat_gateway_id="nat-0a"} 1',
    'aws_nat_router_fallback_gateway_ok{nat_gateway_id="nat-0b"} 0',
  ]);
});
