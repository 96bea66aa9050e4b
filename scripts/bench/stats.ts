/**
 * @module Benchmark figures: one row per scenario and configuration (samples, p50/p95/max,
 * the target and whether it was met), percentiles by the nearest-rank method, and the
 * seeded randomness the scenarios use to place a failure at a random probe phase.
 */
import { type Random, seededRandom } from "../../tests/sim/random.ts";

/** Which router settings a row was measured with. */
export type ConfigName = "new" | "baseline" | "core";

/** A statistic a target is judged on. */
export type Statistic = "p50" | "p95" | "max";

/** One bound: `statistic <= limit` (in the row's unit). */
export interface Bound {
  readonly statistic: Statistic;
  readonly limit: number;
}

/** One line of the results table. */
export interface Row {
  readonly scenario: string;
  readonly configuration: ConfigName;
  /** What was measured, e.g. `failover time`. */
  readonly metric: string;
  readonly unit: "ms" | "s" | "count" | "per min" | "per h" | "MB" | "%" | "credits/h";
  /** Successful samples. */
  readonly samples: readonly number[];
  /** Trials that did not produce a sample (timed out, failed). */
  readonly failed: number;
  readonly p50: number | undefined;
  readonly p95: number | undefined;
  readonly max: number | undefined;
  /** Human-readable target, `-` when the row only reports (the baseline). */
  readonly target: string;
  /** `undefined` when there is no target. */
  readonly pass: boolean | undefined;
  /** Anything else worth keeping in the JSON (per-trial details, mixes, notes). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The nearest-rank percentile (`p` in 0–100) of `values`; `undefined` when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** Builds a row from samples; passes iff there was no failed trial and every bound holds. */
export function row(options: {
  readonly scenario: string;
  readonly configuration: ConfigName;
  readonly metric: string;
  readonly unit: Row["unit"];
  readonly samples: readonly number[];
  readonly failed?: number;
  /** No bounds: a reported figure without a target. */
  readonly bounds?: readonly Bound[];
  readonly extra?: Readonly<Record<string, unknown>>;
}): Row {
  const samples = options.samples.map((v) => Math.round(v * 1000) / 1000);
  const failed = options.failed ?? 0;
  const stats = {
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    max: samples.length === 0 ? undefined : Math.max(...samples),
  };
  const bounds = options.bounds ?? [];
  const unit = ["count", "per min", "per h"].includes(options.unit) ? "" : ` ${options.unit}`;
  const target = bounds.length === 0
    ? "-"
    : bounds.map((b) => `${b.statistic} <= ${b.limit}${unit}`).join(", ");
  const pass = bounds.length === 0 ? undefined : failed === 0 && samples.length > 0 &&
    bounds.every((b) => (stats[b.statistic] ?? Infinity) <= b.limit);
  return {
    scenario: options.scenario,
    configuration: options.configuration,
    metric: options.metric,
    unit: options.unit,
    samples,
    failed,
    ...stats,
    target,
    pass,
    ...(options.extra ? { extra: options.extra } : {}),
  };
}

/** A row for a scenario that could not run at all. */
export function errorRow(
  scenario: string,
  configuration: ConfigName,
  metric: string,
  error: unknown,
): Row {
  return {
    ...row({ scenario, configuration, metric, unit: "count", samples: [], failed: 1 }),
    pass: false,
    target: "completes",
    extra: { error: error instanceof Error ? error.message : String(error) },
  };
}

/** The seeded source of the random delays that spread failures over the probe phase. */
export function benchRandom(seed = 4): Random {
  return seededRandom(seed);
}

/** `promise`'s value, or `undefined` when it takes longer than `ms` (no timer left behind). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
