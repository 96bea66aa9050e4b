/**
 * @module The Prometheus text exposition format 0.0.4, pure: a small registry of counters,
 * gauges and histograms and the text it renders. Knows nothing of the router; the router's
 * metrics are `runtime/metrics.ts`, the HTTP server is `metrics_server.ts`.
 */
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
