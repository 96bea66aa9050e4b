// deno-lint-ignore-file no-console
/**
 * @module The demo (`deno task demo`): a simulated VPC on loopback, one real router process
 * per NAT instance with `--ec2-election`, and a scripted scenario — initial allocation, a NAT
 * going silent (failover), the leader's process killed (takeover), everything coming back
 * (failback) — measured on the simulator's record of route writes.
 *
 * On a terminal it is one screen redrawn in place; otherwise (tests, CI, a pipe) a short log.
 * Either way it ends with a per-step summary. This file is the entry only: flags, the world,
 * the output, exit codes. The story is `demo/scenario.ts`, the drawing `demo/screen.ts`.
 */
import { parseArgs } from "node:util";
import {
  Interrupted,
  Scenario,
  type ScenarioName,
  SCENARIOS,
  STEP_TIMEOUT_MS,
  StepTimeout,
  TIMING_FLAGS,
} from "./demo/scenario.ts";
import { renderIntro, renderState, renderStopped, renderSummary } from "./demo/screen.ts";
import { LiveOutput, LogOutput, writeLines } from "./demo/terminal.ts";
import { runNetDemo } from "./demo/net.ts";
import { loopbackWorld } from "./demo/world.ts";

const HELP =
  `Demo of aws-nat-router against a simulated VPC on loopback (nothing leaves 127.0.0.0/8).

Starts a VPC with 3 zones (2, 1 and 0 NAT instances, 2 private route tables each, plus an
untagged table and one in another VPC), one real router process per NAT instance with
--ec2-election and the default timing (${TIMING_FLAGS.join(" ")}),
then runs a scenario and prints how long each move took.

On a terminal the demo is one screen redrawn in place; when stdout is not a terminal
(a pipe, CI) it prints a short log instead. Both end with a per-step summary.

Usage: deno task demo [flags]

Flags:
  --scenario NAME  all (default): 1 initial allocation, 2 failover, 3 takeover, 4 failback
                   failover: steps 1, 2   takeover: steps 1, 3   failback: steps 1, 2, 4
  --keep-running   After the scenario, keep the fleet running and the view live until Ctrl-C
  --verbose        Echo every router log line (prints the log, even on a terminal)
  --net            The story on real packets instead (root on Linux): network namespaces with
                   kernel NAT, one timeline per private subnet of which NAT carries its
                   datagrams (100 ms a cell), then the measured blackout of each step
  --help           Show this help

Exit code: 0 when every step converged, 1 when one did not (within ${
    STEP_TIMEOUT_MS / 1000
  }s) or cleanup failed,
2 for bad flags, 130 when interrupted.`;

interface Options {
  readonly net: boolean;
  readonly scenario: ScenarioName;
  readonly keepRunning: boolean;
  readonly verbose: boolean;
}

function parseOptions(args: readonly string[]): Options | "help" {
  const { values } = parseArgs({
    args: [...args],
    options: {
      scenario: { type: "string", default: "all" },
      "keep-running": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      net: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const scenario = values.scenario;
  if (!(scenario in SCENARIOS)) {
    throw new Error(
      `Unknown --scenario "${scenario}": expected one of ${Object.keys(SCENARIOS).join(", ")}`,
    );
  }
  return {
    net: values.net,
    scenario: scenario as ScenarioName,
    keepRunning: values["keep-running"],
    verbose: values.verbose,
  };
}

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    console.error("Run with --help for the flags");
    return 2;
  }
  if (options === "help") {
    console.log(HELP);
    return 0;
  }
  if (options.net) {
    const steps = await runNetDemo({ plain: !Deno.stdout.isTerminal() });
    return steps.length > 0 ? 0 : 1; // none: the namespace world could not be built (said why)
  }

  const live = Deno.stdout.isTerminal() && !options.verbose ? new LiveOutput() : undefined;
  const world = await loopbackWorld();
  const demo = new Scenario(world, options, live ?? new LogOutput());
  const onSignal = () => demo.interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const end: string[] = [];
  let code = 0;
  try {
    if (live) live.start();
    else {writeLines(
        renderIntro(demo.snapshot(), world.routerCommand(world.fleet.natIds[0]!, TIMING_FLAGS)),
      );}
    await demo.run();
    if (options.keepRunning) {
      if (!live) writeLines(["", "Fleet still running (--keep-running); press Ctrl-C to stop."]);
      await demo.keepRunning();
    }
    const summary = demo.summary();
    if (!live) end.push("", "The end state:", ...renderState(demo.snapshot()));
    end.push(...renderSummary(summary));
    const ok = summary.remit.every((t) => t.untouched) && summary.outsideRemit === undefined;
    if (!ok) code = 1;
  } catch (error) {
    demo.tick();
    if (error instanceof Interrupted) {
      end.push("", "Interrupted; cleaning up");
      code = 130;
    } else if (error instanceof StepTimeout) {
      end.push("", `✗ ${error.message}`, "  (run with --verbose to see the routers' log lines)");
      code = 1;
    } else {
      end.push("", `✗ Demo failed: ${error instanceof Error ? error.stack : String(error)}`);
      code = 1;
    }
  } finally {
    live?.end();
    writeLines(end);
    const stopped = await demo.stop();
    writeLines([renderStopped(stopped)]);
    if (stopped.error !== undefined) code ||= 1;
    await world.close();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return code;
}

if (import.meta.main) Deno.exitCode = await main();
