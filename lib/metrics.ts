/**
 * @module Prometheus metrics, pure: a small registry (counters, gauges, histograms) with the
 * text exposition format 0.0.4, and the router's own metrics on top of it. The runtime feeds
 * it through hooks (probes, route changes, cycles, EC2 calls); what describes the current
 * view (NAT health, leader, route table targets) is derived from that view at scrape time,
 * so it can never drift from what the controller believes. No I/O: the HTTP server is
 * `metrics_server.ts`.
 *
 * Metric names follow the Prometheus conventions: prefix `aws_nat_router_`, base units
 * (`_seconds`), `_total` for counters. Renaming a metric or a label is a breaking change.
 */
import { interfaceOwners, routeInstanceId } from "./allocate.ts";
import type { HealthState } from "./health.ts";
import type { MoveReason, NatInstance, ProbeResult, RouteChange, RouteTable } from "./model.ts";
import { routeTargetId } from "./plan.ts";

// ---------------------------------------------------------------------------------------
// The registry and the text format.

/** `Content-Type` of the text exposition format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values by label name; every label of the metric must be given. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** `\` and line feeds, as `# HELP` text needs them escaped. */
export function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** `\`, `"` and line feeds, as label values need them escaped. */
export function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value: `+Inf`, `-Inf`, `NaN`, or the shortest decimal JavaScript writes. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return "";
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

type MetricType = "counter" | "gauge" | "histogram";

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** The sample lines, series sorted by label values. */
  samples(): string[];
}

/** One time series per combination of label values, kept in insertion-independent order. */
class Series<L extends string, T> {
  readonly #byKey = new Map<string, { readonly values: readonly string[]; data: T }>();
  constructor(readonly labelNames: readonly L[], readonly create: () => T) {}

  get(labels: Labels<L>): T {
    const values = this.labelNames.map((name) => String(labels[name] ?? ""));
    const key = JSON.stringify(values);
    let entry = this.#byKey.get(key);
    if (entry === undefined) {
      entry = { values, data: this.create() };
      this.#byKey.set(key, entry);
    }
    return entry.data;
  }

  clear(): void {
    this.#byKey.clear();
  }

  /** Label pairs and data per series, sorted by label values. */
  sorted(): { readonly pairs: [string, string][]; readonly data: T }[] {
    return [...this.#byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => ({
        pairs: this.labelNames.map((name, i) => [name, entry.values[i] ?? ""]),
        data: entry.data,
      }));
  }
}

/** A value that only goes up (resets when the process restarts). */
export class Counter<L extends string = never> implements Family {
  readonly type = "counter";
  readonly #series: Series<L, { value: number }>;
  constructor(readonly name: string, readonly help: string, labelNames: readonly L[]) {
    this.#series = new Series(labelNames, () => ({ value: 0 }));
  }
  /** Adds `by` (default 1; negative amounts are ignored). */
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) return;
    this.#series.get(labels).value += by;
  }
  /** Creates the series at 0, so that `increase()` sees its first change. */
  touch(labels: Labels<L>): void {
    this.#series.get(labels);
  }
  samples(): string[] {
    return this.#series.sorted().map(({ pairs, data }) =>
      `${this.name}${formatLabels(pairs)} ${formatSampleValue(data.value)}`
    );
  }
}

/** A value that goes up and down. */
export class Gauge<L extends string = never> implements Family {
  readonly type = "gauge";
  readonly #series: Series<L, { value: number }>;
  constructor(readonly name: string, readonly help: string, labelNames: readonly L[]) {
    this.#series = new Series(labelNames, () => ({ value: 0 }));
  }
  set(labels: Labels<L>, value: number): void {
    this.#series.get(labels).value = value;
  }
  /** Drops every series (a gauge rebuilt from a view at each scrape). */
  clear(): void {
    this.#series.clear();
  }
  samples(): string[] {
    return this.#series.sorted().map(({ pairs, data }) =>
      `${this.name}${formatLabels(pairs)} ${formatSampleValue(data.value)}`
    );
  }
}

/** Observations counted into cumulative buckets (upper bounds, `le`), with sum and count. */
export class Histogram<L extends string = never> implements Family {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  readonly #series: Series<L, { counts: number[]; sum: number; count: number }>;
  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ) {
    if (buckets.length === 0 || buckets.some((b, i) => !(b > (buckets[i - 1] ?? -Infinity)))) {
      throw new Error(`Histogram ${name}: buckets must be finite and strictly increasing`);
    }
    if (!Number.isFinite(buckets.at(-1))) {
      throw new Error(`Histogram ${name}: leave +Inf out of the buckets (it is implied)`);
    }
    this.buckets = [...buckets];
    this.#series = new Series(
      labelNames,
      () => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }),
    );
  }
  observe(labels: Labels<L>, value: number): void {
    if (Number.isNaN(value)) return;
    const series = this.#series.get(labels);
    const first = this.buckets.findIndex((bound) => value <= bound);
    if (first >= 0) series.counts[first]! += 1;
    series.sum += value;
    series.count += 1;
  }
  samples(): string[] {
    return this.#series.sorted().flatMap(({ pairs, data }) => {
      let cumulative = 0;
      const lines = this.buckets.map((bound, i) => {
        cumulative += data.counts[i] ?? 0;
        const labels = formatLabels([...pairs, ["le", formatSampleValue(bound)]]);
        return `${this.name}_bucket${labels} ${cumulative}`;
      });
      const labels = formatLabels(pairs);
      return [
        ...lines,
        `${this.name}_bucket${formatLabels([...pairs, ["le", "+Inf"]])} ${data.count}`,
        `${this.name}_sum${labels} ${formatSampleValue(data.sum)}`,
        `${this.name}_count${labels} ${data.count}`,
      ];
    });
  }
}

/** The metrics of one process, rendered in registration order. */
export class Registry {
  readonly #families: Family[] = [];

  #add<F extends Family>(family: F, labelNames: readonly string[]): F {
    if (!METRIC_NAME.test(family.name)) throw new Error(`Invalid metric name "${family.name}"`);
    if (this.#families.some((f) => f.name === family.name)) {
      throw new Error(`Metric "${family.name}" is registered twice`);
    }
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new Error(`Invalid label name "${label}" for metric "${family.name}"`);
      }
    }
    this.#families.push(family);
    return family;
  }

  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return this.#add(new Counter(name, help, labelNames), labelNames);
  }

  gauge<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Gauge<L> {
    return this.#add(new Gauge(name, help, labelNames), labelNames);
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ): Histogram<L> {
    return this.#add(new Histogram(name, help, labelNames, buckets), labelNames);
  }

  /** The text exposition: `# HELP`, `# TYPE`, then the samples of each metric. */
  render(): string {
    return this.#families.map((family) =>
      [
        `# HELP ${family.name} ${escapeHelp(family.help)}`,
        `# TYPE ${family.name} ${family.type}`,
        ...family.samples(),
      ].join("\n") + "\n"
    ).join("");
  }
}

// ---------------------------------------------------------------------------------------
// The router's metrics.

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
    foreign_target: true,
    zone_preference: true,
    rebalance: true,
  } as const satisfies Record<MoveReason, true>,
) as MoveReason[];

/** What the controller believes now (`Controller.view()`), plus who this node is. */
export interface MetricsView {
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  /** The leader the last reconcile elected (the oldest healthy NAT instance). */
  readonly leader: string | undefined;
  /** This node's instance id (known with `--ec2-election`). */
  readonly self: string | undefined;
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
  /** With election only the leader changes routes; without it, every router does. */
  readonly ec2Election: boolean;
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
    "1 while this router is the one changing routes (the elected leader with " +
      "--ec2-election; any router with a healthy NAT to route to without it)",
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
      leader.clear();
      routeTableTarget.clear();
      let acting = false;
      if (view !== undefined) {
        for (const instance of view.instances) {
          const healthy = view.health.get(instance.instanceId)?.healthy;
          if (healthy === undefined) continue;
          natHealthy.set(
            { instance_id: instance.instanceId, zone: instance.zone },
            healthy ? 1 : 0,
          );
        }
        if (view.leader !== undefined) leader.set({ instance_id: view.leader }, 1);
        acting = view.leader !== undefined &&
          (!options.ec2Election || view.leader === view.self);
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
      return registry.render();
    },
  };
}
