// deno-lint-ignore-file no-console
/**
 * @module `deno task bench`: the benchmark of issue 4. Runs the real program (3 routers with
 * `--ec2-election`) against the simulated VPC, the new defaults and the original-style
 * baseline side by side, plus in-process measurements of the pure core, the probe sweep
 * and the footprint. Prints a table to stdout (progress goes to stderr) and writes the
 * same figures as JSON to `bench-results/latest.json` (or `--out`).
 */
import { parseArgs } from "node:util";
import { runCore, runSweep } from "./bench/core.ts";
import { runDataplaneReport } from "./bench/dataplane.ts";
import { runFailover } from "./bench/failover.ts";
import { BASELINE, closeAllFleets, CONFIGS, failoverFlags, NEW_DEFAULTS } from "./bench/fleet.ts";
import { runFootprint, runStartup } from "./bench/footprint.ts";
import { runFlap, runSteady } from "./bench/quiet.ts";
import { formatTable, resultsDocument } from "./bench/report.ts";
import { benchRandom, type Row } from "./bench/stats.ts";

const SCENARIOS = [
  "refusing",
  "silent",
  "leader",
  "flap",
  "steady",
  "core",
  "footprint",
  "dataplane",
] as const;
type Scenario = typeof SCENARIOS[number];

const HELP = `Usage: deno task bench [options] [SCENARIO...]

Benchmarks aws-nat-router against the simulated VPC: the new defaults
(${NEW_DEFAULTS.flags.join(" ")})
side by side with the original-style baseline
(${BASELINE.flags.join(" ")}).

Options:
  --trials N            Trials per failover scenario, core runs and start-ups (default 20)
  --scenario NAME       Run only this scenario; repeatable (default: all). One of:
                        ${SCENARIOS.join(", ")}
  --flap-seconds S      How long the NAT is flaky in the flap scenario (default 120)
  --steady-seconds S    Window of the steady-state API cost and footprint CPU runs (default 120)
  --footprint-cycles N  Cycles of the footprint's long run (default 10000)
  --loss-seconds S      How long one NAT's health port loses 20% of packets in the
                        dataplane scenario (default 600)
  --dataplane-out FILE  Where the dataplane scenario writes its JSON
                        (default bench-results/dataplane.json; needs root on Linux)
  --out FILE            Where to write the JSON results (default bench-results/latest.json;
                        bench-results/footprint.json when footprint is the only scenario)

A SCENARIO named without --scenario is the same as --scenario SCENARIO,
e.g. deno task bench footprint.
  --log-level LEVEL     Log level of the router processes (default info; debug for analysis)
  --logs DIR            Write every router's log lines to DIR after each scenario
  --help                Show this help`;

interface Options {
  readonly trials: number;
  readonly scenarios: readonly Scenario[];
  readonly flapSeconds: number;
  readonly steadySeconds: number;
  readonly footprintCycles: number;
  readonly lossSeconds: number;
  readonly dataplaneOut: string;
  readonly out: string;
  readonly logLevel: string;
  readonly logDir: string | undefined;
}

function parseOptions(args: readonly string[]): Options | "help" | string {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        trials: { type: "string", default: "20" },
        scenario: { type: "string", multiple: true },
        "flap-seconds": { type: "string", default: "120" },
        "steady-seconds": { type: "string", default: "120" },
        "footprint-cycles": { type: "string", default: "10000" },
        "loss-seconds": { type: "string", default: "600" },
        "dataplane-out": { type: "string", default: "bench-results/dataplane.json" },
        out: { type: "string" },
        "log-level": { type: "string", default: "info" },
        logs: { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const whole = (flag: string, text: string, min: number): number | string => {
    const n = Number(text);
    return /^\d+$/.test(text) && n >= min
      ? n
      : `Invalid --${flag} "${text}": expected a whole number of at least ${min}`;
  };
  const trials = whole("trials", values.trials, 1);
  const flapSeconds = whole("flap-seconds", values["flap-seconds"], 1);
  const steadySeconds = whole("steady-seconds", values["steady-seconds"], 1);
  const footprintCycles = whole("footprint-cycles", values["footprint-cycles"], 10);
  const lossSeconds = whole("loss-seconds", values["loss-seconds"], 1);
  for (const value of [trials, flapSeconds, steadySeconds, footprintCycles, lossSeconds]) {
    if (typeof value === "string") return value;
  }
  const named = [...(values.scenario ?? []), ...positionals];
  const names = named.length > 0 ? named : [...SCENARIOS];
  const unknown = names.find((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown !== undefined) {
    return `Unknown --scenario "${unknown}": expected one of ${SCENARIOS.join(", ")}`;
  }
  if (!["debug", "info", "warn", "error"].includes(values["log-level"])) {
    return `Invalid --log-level "${values["log-level"]}": expected debug, info, warn or error`;
  }
  const scenarios = SCENARIOS.filter((s) => names.includes(s));
  const onlyFootprint = scenarios.length === 1 && scenarios[0] === "footprint";
  return {
    trials: trials as number,
    scenarios,
    flapSeconds: flapSeconds as number,
    steadySeconds: steadySeconds as number,
    footprintCycles: footprintCycles as number,
    lossSeconds: lossSeconds as number,
    dataplaneOut: values["dataplane-out"],
    out: values.out ??
      (onlyFootprint ? "bench-results/footprint.json" : "bench-results/latest.json"),
    logLevel: values["log-level"],
    logDir: values.logs,
  };
}

/** Rough seconds each scenario takes, from the timings of earlier runs. */
function estimateSeconds(options: Options): number {
  const { trials } = options;
  const per: Record<Scenario, number> = {
    refusing: 15 + trials * (4 + 10),
    silent: 15 + trials * (4.2 + 10.3),
    leader: 15 + trials * (14 + 24),
    flap: 2 * (options.flapSeconds + 5),
    steady: options.steadySeconds + 12,
    core: 11,
    footprint: Math.max(options.footprintCycles * 0.06, 2 * (options.steadySeconds + 110)) +
      Math.max(trials, 10) * 0.7,
    dataplane: 2 * (options.lossSeconds + 60 + trials * (7 * 8 + 14)), // + succession
  };
  return options.scenarios.reduce((sum, s) => sum + per[s], 0);
}

async function main(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  if (typeof options === "string") {
    console.error(`bench: ${options}`);
    return 2;
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const progress = (message: string) =>
    console.error(
      `[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}`,
    );
  const estimate = estimateSeconds(options);
  progress(
    `scenarios ${options.scenarios.join(", ")}; ${options.trials} trials; ` +
      `expected duration about ${Math.ceil(estimate / 60)} min`,
  );

  const random = benchRandom();
  const rows: Row[] = [];
  const common = { logLevel: options.logLevel, logDir: options.logDir, progress };
  for (const scenario of options.scenarios) {
    progress(`scenario ${scenario}`);
    switch (scenario) {
      case "refusing":
      case "silent":
      case "leader":
        for (const config of CONFIGS) {
          rows.push(
            await runFailover({ ...common, scenario, config, trials: options.trials, random }),
          );
        }
        break;
      case "flap":
        for (const config of CONFIGS) {
          rows.push(await runFlap({ ...common, config, seconds: options.flapSeconds }));
        }
        break;
      case "steady": {
        const both = await Promise.all(
          CONFIGS.map((config) => runSteady({ ...common, config, seconds: options.steadySeconds })),
        );
        rows.push(...both.flat());
        break;
      }
      case "core":
        rows.push(...runCore(Math.max(options.trials, 20)));
        rows.push(await runSweep(Math.max(options.trials, 20)));
        break;
      case "footprint":
        rows.push(
          ...await runFootprint({
            cycles: options.footprintCycles,
            steadySeconds: options.steadySeconds,
            progress,
          }),
        );
        rows.push(await runStartup(Math.max(options.trials, 10), progress));
        break;
      case "dataplane":
        // Its own JSON (bench-results/dataplane.json), and its rows in this table too.
        rows.push(
          ...await runDataplaneReport({
            trials: options.trials,
            lossSeconds: options.lossSeconds,
            random,
            progress,
            out: options.dataplaneOut,
            argv: args,
          }),
        );
        break;
    }
  }

  const durationS = (performance.now() - t0) / 1000;
  const notes = [
    "Failover time: from the failure to the last affected route table's first write to a healthy NAT (simulated EC2 route-write timestamps).",
    "Failure moment: when the NAT's mode is set (leader: the router is SIGKILLed at the same moment). A silent NAT first fills its accept backlog (setModeMs in the JSON), during which connects still succeed, so silent figures are pessimistic by that much at most.",
    "Each failover trial first waits a random part of a probe interval (seeded), so failures land at every probe phase; the failed NAT is natIds[2] (zone b, not the leader), or natIds[0] and its router for the leader scenario.",
    "Leader scenario: between trials the killed router is restarted (same instance and metadata service) and the next trial waits until every router has re-read the route tables after its own remembered writes expired (2 x --interval), so each trial starts from a settled fleet.",
    "In the failover scenarios the new-defaults fleet runs with --failback-delay 1s (default 30s) so each trial's failback is short; failback delay never holds a move away from a failed NAT.",
    "Flap and steady run the exact configurations (new defaults with the default 30s failback delay). Steady runs both configurations' fleets at the same time.",
    "Targets apply to the new defaults; baseline rows are reported without one. A target without a named statistic is judged on the max.",
  ];
  const document = resultsDocument({
    startedAt,
    durationS,
    trials: options.trials,
    scenarios: options.scenarios,
    argv: args,
    configurations: {
      new: {
        label: NEW_DEFAULTS.label,
        flags: NEW_DEFAULTS.flags,
        failoverFlags: failoverFlags(NEW_DEFAULTS),
      },
      baseline: {
        label: BASELINE.label,
        flags: BASELINE.flags,
        failoverFlags: failoverFlags(BASELINE),
      },
      common: [
        "--ec2-election",
        "--log-level",
        options.logLevel,
        "--vpc-id",
        "<sim>",
        "--port",
        "<sim>",
      ],
    },
    notes,
    rows,
  });
  const dir = options.out.includes("/") ? options.out.slice(0, options.out.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(options.out, JSON.stringify(document, null, 2) + "\n");

  console.log(formatTable(rows));
  console.log(
    `\nDeno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores; ` +
      `${options.trials} trials; took ${
        (durationS / 60).toFixed(1)
      } min; results in ${options.out}`,
  );
  for (const note of notes) console.log(`- ${note}`);
  return rows.every((r) => r.pass !== false) ? 0 : 1;
}

if (import.meta.main) {
  const onSignal = async () => {
    console.error("bench: interrupted; stopping every router");
    await closeAllFleets();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 1;
  try {
    code = await main(Deno.args);
  } finally {
    await closeAllFleets();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  Deno.exit(code);
}
