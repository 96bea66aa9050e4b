/**
 * @module The benchmark's output: the results table (one line per scenario and
 * configuration) and the JSON document written to `bench-results/latest.json`.
 */
import type { Row } from "./stats.ts";

const CONFIG_LABELS: Readonly<Record<Row["configuration"], string>> = {
  new: "new defaults",
  baseline: "baseline (original-style)",
  core: "in-process",
};

function format(value: number | undefined, unit: Row["unit"]): string {
  if (value === undefined) return "-";
  if (unit === "ms") return value >= 100 ? String(Math.round(value)) : value.toFixed(1);
  if (unit === "count") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (unit === "per h") return String(Math.round(value));
  if (unit === "%" || unit === "credits/h") return value.toFixed(3);
  return value.toFixed(1);
}

/** The results as a fixed-width text table. */
export function formatTable(rows: readonly Row[]): string {
  const header = [
    "scenario",
    "metric",
    "configuration",
    "unit",
    "p50",
    "p95",
    "max",
    "n",
    "target",
    "result",
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.metric,
    CONFIG_LABELS[r.configuration],
    r.unit,
    format(r.p50, r.unit),
    format(r.p95, r.unit),
    format(r.max, r.unit),
    r.failed > 0 ? `${r.samples.length}+${r.failed} failed` : String(r.samples.length),
    r.target,
    r.pass === undefined ? "-" : r.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: readonly string[]) =>
    cells.map((c, i) => (i >= 4 && i <= 7 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ").trimEnd();
  return [render(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(render)]
    .join("\n");
}

/** The JSON document: run metadata, the configurations' exact flags, and every row. */
export function resultsDocument(options: {
  readonly startedAt: Date;
  readonly durationS: number;
  readonly trials: number;
  readonly scenarios: readonly string[];
  readonly argv: readonly string[];
  readonly configurations: Readonly<Record<string, unknown>>;
  readonly notes: readonly string[];
  readonly rows: readonly Row[];
}): Record<string, unknown> {
  return {
    date: options.startedAt.toISOString(),
    durationSeconds: Math.round(options.durationS),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    cores: navigator.hardwareConcurrency,
    command: ["deno", "task", "bench", ...options.argv].join(" "),
    trials: options.trials,
    scenarios: options.scenarios,
    configurations: options.configurations,
    notes: options.notes,
    allPassed: options.rows.every((r) => r.pass !== false),
    results: options.rows.map((r) => ({
      ...r,
      configurationLabel: CONFIG_LABELS[r.configuration],
    })),
  };
}
