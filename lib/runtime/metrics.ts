/**
 * @module The router's Prometheus metrics, on the registry of `adapters/prometheus.ts`. The runtime feeds
 * it through hooks (probes, route changes, cycles, EC2 calls); what describes the current
 * view (NAT health, leader, route table targets) is derived from that view at scrape time,
 * so it can never drift from what the controller believes. No I/O: the HTTP server is
 * `metrics_server.ts`.
 *
 * Metric names follow the Prometheus conventions: prefix `aws_nat_router_`, base units
 * (`_seconds`), `_total` for counters. Renaming a metric or a label is a breaking change.
 */
import { isDraining } from "../core/drain.ts";
import { interfaceOwners, routeInstanceId } from "../core/allocate.ts";
import type { Decision } from "../core/decide.ts";
import type { HealthState } from "../core/health.ts";
import type { MoveReason, NatInstance, ProbeResult, RouteChange, RouteTable } from "../model.ts";
import { routeTargetId } from "../core/plan.ts";
import { Registry } from "../adapters/prometheus.ts";

/** Probe latencies: 1 ms to 2.5 s (a probe times out after at most `--timeout`). */
export const PROBE_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Reconcile durations: 5 ms to 30 s (writes retried by the SDK under throttling are slow). */
export const CYCLE_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** Every move reason, so each `route_changes_total` series exists from the start. */
const MOVE_REASONS = Object.keys(
  {
    no_route: true,
    blackhole: true,
    nat_unhealthy: true,
    nat_draining: true,
    foreign_target: true,
    zone_preference: true,
    rebalance: true,
  } as const satisfies Record<MoveReason, true>,
) as MoveReason[];

/** What the controller believes now: its view, and what its latest decision said. */
export interface MetricsView {
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  /** The latest decision's leader and whether this node acts on it. */
  readonly decision:
    | Pick<Decision, "leader" | "acting" | "splits" | "contested" | "gateways">
    | undefined;
}

/** The hooks the controller calls (structurally a `ControllerObserver`). */
export interface MetricsObserver {
  probed(result: ProbeResult): void;
  routeChanged(change: RouteChange): void;
  cycle(info: { readonly durationMs: number; readonly ok: boolean; readonly at: number }): void;
}

export interface RouterMetrics {
  readonly observer: MetricsObserver;
  /** For the EC2 adapter's `onCall`: `outcome` is `ok` or EC2's error code. */
  onEc2Call(action: string, outcome: string): void;
  /** The exposition; `view` is `undefined` until the controller exists. */
  render(view: MetricsView | undefined): string;
}

export interface RouterMetricsOptions {
  readonly version: string;
}

/** The router's metrics; see the README's metrics section for what each one means. */
export function createRouterMetrics(options: RouterMetricsOptions): RouterMetrics {
  const registry = new Registry();
  const p = "aws_nat_router_";
  const build = registry.gauge(
    `${p}build_info`,
    "Always 1; the version of the running router as a label",
    ["version"],
  );
  const natHealthy = registry.gauge(
    `${p}nat_healthy`,
    "Health verdict of each NAT instance of the cluster: 1 healthy, 0 unhealthy " +
      "(absent until its first verdict)",
    ["instance_id", "zone"],
  );
  const natDraining = registry.gauge(
    `${p}nat_draining`,
    "1 for each NAT instance of the cluster marked draining (aws-nat-router/draining, not " +
      "expired): it keeps forwarding and gets no route table; 0 for the others",
    ["instance_id"],
  );
  const probeDuration = registry.histogram(
    `${p}probe_duration_seconds`,
    "Time a TCP health probe took, failed ones included",
    ["instance_id"],
    PROBE_BUCKETS,
  );
  const probes = registry.counter(
    `${p}probes_total`,
    "Health probes by result: ok, or the failure (refused, timeout, no_address, ...)",
    ["instance_id", "result"],
  );
  const leader = registry.gauge(
    `${p}leader`,
    "1 for the leader the last reconcile elected: the oldest healthy NAT instance",
    ["instance_id"],
  );
  const isLeader = registry.gauge(
    `${p}is_leader`,
    "1 while this router's latest decision is to change routes: the elected leader with " +
      "--ec2-election, every router without it, and every router while no NAT instance is " +
      "healthy and --fallback-nat-gateway is set",
  );
  const splitSuspected = registry.gauge(
    `${p}split_suspected`,
    "Route tables this router leaves alone because another router keeps moving them to a " +
      "NAT instance this one cannot reach (nodes that disagree about health); 0 normally",
  );
  const natContested = registry.gauge(
    `${p}nat_contested`,
    "1 for a NAT instance this router sees unhealthy while another router evidently routes " +
      "to it (nodes that disagree about health): never rebooted or terminated while so",
    ["instance_id"],
  );
  const gatewayOk = registry.gauge(
    `${p}fallback_gateway_ok`,
    "Each --fallback-nat-gateway as EC2 last showed it: 1 usable, 0 not (deleted, not " +
      "available, another VPC, private); no route goes to an unusable one",
    ["nat_gateway_id"],
  );
  const routeTableTarget = registry.gauge(
    `${p}route_table_target`,
    "1 per tagged route table with a default route: instance_id is the NAT instance it " +
      'points at ("" for other targets), target the route\'s target id',
    ["route_table_id", "instance_id", "target"],
  );
  const routeChanges = registry.counter(
    `${p}route_changes_total`,
    "Default routes this router created or replaced, by reason",
    ["reason"],
  );
  const ec2Calls = registry.counter(
    `${p}ec2_calls_total`,
    "EC2 API calls by action and outcome: ok, or EC2's error code (RequestLimitExceeded " +
      "for throttling); SDK retries count as one call",
    ["action", "outcome"],
  );
  const cycleDuration = registry.histogram(
    `${p}cycle_duration_seconds`,
    "Time a reconcile that acted took: decide, then apply the plan",
    [],
    CYCLE_BUCKETS,
  );
  const cycles = registry.counter(
    `${p}cycles_total`,
    "Reconciles that acted, by result: ok, or failed (a change failed)",
    ["result"],
  );
  const lastSuccess = registry.gauge(
    `${p}last_success_timestamp_seconds`,
    "When the last reconcile that acted completed without a failed change (Unix time; " +
      "0 before the first)",
  );

  build.set({ version: options.version }, 1);
  for (const reason of MOVE_REASONS) routeChanges.touch({ reason });
  for (const result of ["ok", "failed"]) cycles.touch({ result });
  lastSuccess.set({}, 0);

  return {
    observer: {
      probed(result) {
        probeDuration.observe({ instance_id: result.instanceId }, result.latencyMs / 1000);
        probes.inc({
          instance_id: result.instanceId,
          result: result.healthy ? "ok" : result.error ?? "error",
        });
      },
      routeChanged(change) {
        routeChanges.inc({ reason: change.reason });
      },
      cycle(info) {
        cycleDuration.observe({}, info.durationMs / 1000);
        cycles.inc({ result: info.ok ? "ok" : "failed" });
        if (info.ok) lastSuccess.set({}, info.at / 1000);
      },
    },
    onEc2Call(action, outcome) {
      ec2Calls.inc({ action, outcome });
    },
    render(view) {
      natHealthy.clear();
      natDraining.clear();
      natContested.clear();
      gatewayOk.clear();
      leader.clear();
      routeTableTarget.clear();
      let acting = false;
      let splits = 0;
      if (view !== undefined) {
        for (const instance of view.instances) {
          const healthy = view.health.get(instance.instanceId)?.healthy;
          if (healthy === undefined) continue;
          natHealthy.set(
            { instance_id: instance.instanceId, zone: instance.zone },
            healthy ? 1 : 0,
          );
        }
        const now = Date.now();
        for (const instance of view.instances) {
          natDraining.set({ instance_id: instance.instanceId }, isDraining(instance, now) ? 1 : 0);
        }
        const elected = view.decision?.leader;
        if (elected !== undefined) leader.set({ instance_id: elected }, 1);
        acting = view.decision?.acting ?? false;
        splits = view.decision?.splits.length ?? 0;
        for (const id of view.decision?.contested ?? []) natContested.set({ instance_id: id }, 1);
        for (const gateway of view.decision?.gateways ?? []) {
          gatewayOk.set({ nat_gateway_id: gateway.natGatewayId }, gateway.problem ? 0 : 1);
        }
        const owners = interfaceOwners(view.instances);
        for (const table of view.routeTables) {
          const route = table.defaultRoute;
          if (route === undefined) continue;
          routeTableTarget.set({
            route_table_id: table.routeTableId,
            instance_id: routeInstanceId(route, owners) ?? "",
            target: routeTargetId(route) ?? "",
          }, 1);
        }
      }
      isLeader.set({}, acting ? 1 : 0);
      splitSuspected.set({}, splits);
      return registry.render();
    },
  };
}
