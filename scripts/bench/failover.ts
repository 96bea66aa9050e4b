/**
 * @module Scenarios 1–3: failover time of the real router fleet. Each trial waits a random
 * part of a probe interval (so failures land at every probe phase), fails one NAT, and
 * measures from the failure to the last affected route table pointing at a healthy NAT,
 * from the simulated EC2's timestamped route writes. Then it restores the NAT (and the
 * killed router) and waits until the allocation is back to its settled state.
 *
 * The failure starts when `setMode` is called (and, for the leader, the router is killed at
 * the same moment). A refusing listener closes within a millisecond or two; a silent one
 * first fills its accept backlog (each trial records how long `setMode` took, `setModeMs`),
 * during which connects still succeed, so silent figures include that fill: pessimistic by
 * at most a few tens of milliseconds.
 */
import type { Random } from "../../tests/sim/random.ts";
import { targets, waitUntil } from "../../tests/e2e.ts";
import { BenchFleet, failoverFlags, type RouterConfig } from "./fleet.ts";
import { errorRow, type Row, row, sleep } from "./stats.ts";

export type FailoverScenario = "refusing" | "silent" | "leader";

/** Targets with the new defaults (issue 4); the baseline is reported without one. */
const BOUNDS = {
  refusing: [{ statistic: "p50", limit: 1500 }, { statistic: "max", limit: 2500 }],
  silent: [{ statistic: "p50", limit: 2000 }, { statistic: "max", limit: 3000 }],
  leader: [{ statistic: "p95", limit: 3000 }],
} as const;

const METRIC = {
  refusing: "failover, NAT refuses",
  silent: "failover, NAT silent",
  leader: "leader killed + NAT silent",
} as const;

const CONVERGE_MS = 30_000;
const RESTORE_MS = 60_000;

export interface FailoverOptions {
  readonly scenario: FailoverScenario;
  readonly config: RouterConfig;
  readonly trials: number;
  readonly random: Random;
  readonly logLevel: string;
  readonly logDir: string | undefined;
  readonly progress: (message: string) => void;
}

interface Trial {
  readonly ms: number | undefined;
  readonly affected: number;
  /** Route writes between the failure and convergence (the minimum is `affected`). */
  readonly writes: number;
  /** How long switching the NAT's mode took (the silent backlog fill). */
  readonly setModeMs?: number;
  readonly error?: string;
}

export async function runFailover(options: FailoverOptions): Promise<Row> {
  const { scenario, config } = options;
  const flags = failoverFlags(config);
  let fleet: BenchFleet | undefined;
  const trials: Trial[] = [];
  let aborted: string | undefined;
  try {
    fleet = await BenchFleet.start(flags, options.logLevel);
    for (let n = 0; n < options.trials; n++) {
      const trial = await failOnce(fleet, options);
      trials.push(trial);
      options.progress(
        `${scenario} ${config.name} trial ${n + 1}/${options.trials}: ` +
          (trial.ms === undefined ? `FAILED ${trial.error}` : `${Math.round(trial.ms)} ms`),
      );
      try {
        await restore(fleet, scenario, config);
      } catch (error) {
        aborted = `could not restore the fleet after trial ${n + 1}: ${String(error)}`;
        options.progress(`${scenario} ${config.name}: ${aborted}`);
        break;
      }
    }
  } catch (error) {
    return errorRow(scenario, config.name, METRIC[scenario], error);
  } finally {
    if (fleet && options.logDir) await fleet.dumpLogs(options.logDir, `${scenario}-${config.name}`);
    await fleet?.close();
  }
  const ok = trials.filter((t) => t.ms !== undefined);
  const notRun = options.trials - trials.length;
  return row({
    scenario,
    configuration: config.name,
    metric: METRIC[scenario],
    unit: "ms",
    samples: ok.map((t) => t.ms!),
    failed: trials.length - ok.length + notRun,
    ...(config.name === "new" ? { bounds: BOUNDS[scenario] } : {}),
    extra: {
      flags,
      victim: scenario === "leader" ? "natIds[0] (the leader) and its router" : "natIds[2]",
      extraWrites: trials.reduce((sum, t) => sum + Math.max(0, t.writes - t.affected), 0),
      setModeMs: trials.map((t) => t.setModeMs),
      errors: trials.flatMap((t) => t.error ? [t.error] : []),
      ...(aborted ? { aborted } : {}),
    },
  });
}

async function failOnce(fleet: BenchFleet, options: FailoverOptions): Promise<Trial> {
  const { vpc } = fleet;
  const { scenario, config } = options;
  const victimIndex = scenario === "leader" ? 0 : 2;
  const victim = fleet.natIds[victimIndex]!;
  const healthy = fleet.natIds.filter((id) => id !== victim);

  await sleep(options.random() * config.probeIntervalMs);
  const affected = Object.entries(targets(vpc)).filter(([, t]) => t === victim).map(([id]) => id);
  if (affected.length === 0) {
    return { ms: undefined, affected: 0, writes: 0, error: `${victim} carried no table` };
  }
  const firstWrite = vpc.ec2.routeWrites.length;
  const called = Date.now();
  const killed = scenario === "leader" ? fleet.routers[0]!.kill() : undefined;
  const mode = scenario === "leader" ? "silent" : scenario;
  await vpc.nat(victim).setMode(mode);
  const setModeMs = Date.now() - called;
  await killed;
  const failedAt = called;

  const moved = () =>
    affected.every((table) => healthy.includes(vpc.ec2.defaultRouteTarget(table) ?? ""));
  try {
    await waitUntil("the failed NAT's tables moved", moved, CONVERGE_MS - (Date.now() - failedAt));
  } catch {
    return {
      ms: undefined,
      affected: affected.length,
      writes: 0,
      setModeMs,
      error: "not converged in 30 s",
    };
  }
  const writes = vpc.ec2.routeWrites.slice(firstWrite).filter((w) => w.time >= called);
  const movedAt = affected.map((table) =>
    writes.find((w) => w.routeTableId === table && healthy.includes(w.instanceId ?? ""))?.time
  );
  if (movedAt.some((t) => t === undefined)) {
    return {
      ms: undefined,
      affected: affected.length,
      writes: writes.length,
      setModeMs,
      error: "a table moved without a recorded route write",
    };
  }
  const last = Math.max(...movedAt as number[]);
  return {
    ms: last - failedAt,
    affected: affected.length,
    writes: writes.filter((w) => w.time <= last).length,
    setModeMs,
  };
}

/**
 * Brings the NAT (and the killed router) back and waits for the settled allocation. For the
 * leader scenario also until every router's view is current: a router trusts the routes it
 * wrote itself over what EC2 returns for 2 × --interval (read-your-writes), so a follower
 * that took over in the previous trial would otherwise still see the tables where it put
 * them, not where the restarted leader moved them back, and skip them when it takes over
 * again (see the report: that delays the takeover by up to 2 × --interval).
 */
async function restore(
  fleet: BenchFleet,
  scenario: FailoverScenario,
  config: RouterConfig,
): Promise<void> {
  const victimIndex = scenario === "leader" ? 0 : 2;
  await fleet.vpc.nat(fleet.natIds[victimIndex]!).setMode("up");
  if (scenario === "leader") {
    const router = fleet.restart(0);
    await router.waitFor(/router\.ready/, 30_000);
  }
  await waitUntil("the allocation settled again", () => fleet.allocated(), RESTORE_MS);
  if (scenario === "leader") {
    const leader = fleet.natIds[0]!;
    await waitUntil(
      "every router follows the restarted leader",
      () => fleet.routers.every((_, i) => fleet.leaderSeenBy(i) === leader),
      RESTORE_MS,
    );
    const followers = [fleet.keyOf(1), fleet.keyOf(2)];
    const followerWrites = fleet.vpc.ec2Server.calls.filter((c) =>
      ROUTE_WRITES.includes(c.action) && c.accessKeyId !== undefined &&
      followers.includes(c.accessKeyId)
    );
    const remembered = (followerWrites.at(-1)?.time ?? 0) + 2 * config.intervalMs + 200;
    await fleet.waitSynced(Math.max(fleet.lastWriteTime(), remembered), RESTORE_MS);
  }
}

const ROUTE_WRITES = ["CreateRoute", "ReplaceRoute"];
