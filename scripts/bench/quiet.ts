/**
 * @module Scenarios 4 and 5, measured over a window rather than in trials. Flap resistance:
 * one non-leader NAT turns `flaky` (misses about 1 probe in 5, see tests/sim/nat.ts) and every
 * route write in the window is a move. Steady-state API cost: nothing changes, and every EC2
 * call of the fleet in the window is counted, reads (Describe*) apart from writes.
 */
import { flakyBlips } from "../../tests/sim/nat.ts";
import { BenchFleet, type RouterConfig } from "./fleet.ts";
import { errorRow, type Row, row, sleep } from "./stats.ts";

export interface WindowOptions {
  readonly config: RouterConfig;
  readonly seconds: number;
  readonly logLevel: string;
  readonly logDir: string | undefined;
  readonly progress: (message: string) => void;
}

const FLAKY_SEED = 1;

/** Route writes while a non-leader NAT is flaky for `seconds`. */
export async function runFlap(options: WindowOptions): Promise<Row> {
  const { config } = options;
  const metric = `route moves in ${options.seconds} s of a flaky NAT`;
  let fleet: BenchFleet | undefined;
  try {
    fleet = await BenchFleet.start(config.flags, options.logLevel);
    const { vpc } = fleet;
    const victim = fleet.natIds[2]!;
    const first = vpc.ec2.routeWrites.length;
    options.progress(`flap ${config.name}: ${victim} flaky for ${options.seconds} s`);
    const start = Date.now();
    await vpc.nat(victim).setMode("flaky", { seed: FLAKY_SEED });
    await sleep(options.seconds * 1000);
    const end = Date.now();
    await vpc.nat(victim).setMode("up");
    const writes = vpc.ec2.routeWrites.slice(first).filter((w) => w.time <= end);
    const leaderLines = fleet.routers[0]!.grep(
      new RegExp(`health\\.changed instance_id=${victim} healthy=false`),
    ).filter((line) => {
      const at = Date.parse(line.slice(0, 24));
      return at >= start && at <= end;
    });
    let blips = 0;
    for (const blip of flakyBlips({ seed: FLAKY_SEED })) {
      if (blip.start > options.seconds * 1000) break;
      blips++;
    }
    options.progress(`flap ${config.name}: ${writes.length} route writes`);
    return row({
      scenario: "flap",
      configuration: config.name,
      metric,
      unit: "count",
      samples: [writes.length],
      ...(config.name === "new" ? { bounds: [{ statistic: "max", limit: 0 }] } : {}),
      extra: {
        flags: config.flags,
        seconds: options.seconds,
        victim: "natIds[2]",
        blips,
        leaderUnhealthyVerdicts: leaderLines.length,
      },
    });
  } catch (error) {
    return errorRow("flap", config.name, metric, error);
  } finally {
    if (fleet && options.logDir) await fleet.dumpLogs(options.logDir, `flap-${config.name}`);
    await fleet?.close();
  }
}

/** EC2 calls per minute of the whole fleet with nothing changing: a reads row and a writes row. */
export async function runSteady(options: WindowOptions): Promise<Row[]> {
  const { config } = options;
  const processes = 3;
  const readLimit = 2 * processes * 60_000 / config.intervalMs;
  let fleet: BenchFleet | undefined;
  try {
    fleet = await BenchFleet.start(config.flags, options.logLevel);
    const { ec2Server } = fleet.vpc;
    await sleep(config.intervalMs); // past the first cycle's source/dest check writes
    options.progress(`steady ${config.name}: counting EC2 calls for ${options.seconds} s`);
    // A half-open window of exactly `seconds`: a router discovers at most every interval, so
    // it cannot be counted once more than its budget because of where the window falls.
    const start = Date.now();
    const end = start + options.seconds * 1000;
    await sleep(end - Date.now() + 100);
    const calls = ec2Server.calls.filter((c) => c.time >= start && c.time < end);
    const minutes = (end - start) / 60_000;
    const isRead = (action: string) => action.startsWith("Describe");
    const reads = calls.filter((c) => isRead(c.action));
    const writes = calls.filter((c) => !isRead(c.action));
    const byAction: Record<string, number> = {};
    for (const c of calls) byAction[c.action] = (byAction[c.action] ?? 0) + 1;
    const readsPerProcess = fleet.natIds.map((_, i) => {
      const key = fleet!.keyOf(i);
      return round(reads.filter((c) => c.accessKeyId === key).length / minutes);
    });
    const extra = { flags: config.flags, seconds: options.seconds, byAction, readsPerProcess };
    const isNew = config.name === "new";
    return [
      row({
        scenario: "steady",
        configuration: config.name,
        metric: `EC2 reads/min, ${processes} routers`,
        unit: "per min",
        samples: [reads.length / minutes],
        ...(isNew ? { bounds: [{ statistic: "max", limit: readLimit }] } : {}),
        extra,
      }),
      row({
        scenario: "steady",
        configuration: config.name,
        metric: `EC2 writes/min, ${processes} routers`,
        unit: "per min",
        samples: [writes.length / minutes],
        ...(isNew ? { bounds: [{ statistic: "max", limit: 0 }] } : {}),
        extra,
      }),
    ];
  } catch (error) {
    return [errorRow("steady", config.name, "EC2 calls/min", error)];
  } finally {
    if (fleet && options.logDir) await fleet.dumpLogs(options.logDir, `steady-${config.name}`);
    await fleet?.close();
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
