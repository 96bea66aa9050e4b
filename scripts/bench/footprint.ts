/**
 * @module Scenario 7: footprint. Memory: `footprint_child.ts` runs 1,000 back-to-back cycles
 * of the real controller against a simulated VPC here, while one NAT goes refusing and up
 * again every 1.5 s (so routes move too); RSS after cycle 10 vs after cycle 1000. Start-up:
 * the real program spawned as the oldest NAT's router (the leader), timed from spawn to its
 * `router.ready` line (logged once its first cycle completed).
 */
import { routerArgs } from "../../tests/e2e.ts";
import { simEnv, startRouter } from "../../tests/router_process.ts";
import { SimVpc } from "../../tests/sim/vpc.ts";
import { NEW_DEFAULTS, onInterrupt } from "./fleet.ts";
import { errorRow, type Row, row, within } from "./stats.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHILD = new URL("footprint_child.ts", import.meta.url).pathname;
const MB = 1024 * 1024;

interface Checkpoint {
  readonly cycle: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly elapsedMs: number;
  readonly failures: number;
  readonly gc: boolean;
}

/**
 * RSS growth of the controller process from cycle 10 to cycle `cycles`, then from `cycles`
 * to `3 × cycles` (warmed up), and the JS heap in use after a GC from 10 to `cycles`.
 */
export async function runMemory(cycles: number, progress: (m: string) => void): Promise<Row[]> {
  const metric = `RSS growth, cycle 10 -> ${cycles}`;
  const vpc = await SimVpc.standard();
  let churn: ReturnType<typeof setInterval> | undefined;
  try {
    const flaky = vpc.fleet.natIds[2]!;
    let down = false;
    churn = setInterval(() => {
      down = !down;
      vpc.nat(flaky).setMode(down ? "refusing" : "up").catch(() => {});
    }, 1500);
    const home = Deno.env.get("HOME") ?? "/root";
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=sim",
        "--quiet",
        "--no-prompt",
        "--v8-flags=--expose-gc",
        CHILD,
        "--endpoint",
        vpc.ec2Endpoint,
        "--vpc-id",
        vpc.vpcId,
        "--port",
        String(vpc.healthPort),
        "--cycles",
        String(3 * cycles),
        "--checkpoints",
        [10, 100, 500, cycles, 2 * cycles, 3 * cycles].join(","),
      ],
      cwd: ROOT,
      clearEnv: true,
      env: {
        HOME: home,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const forget = onInterrupt(async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    });
    const output = await within(child.output(), 10 * 60_000);
    if (output === undefined) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      throw new Error("the footprint driver did not finish within 10 minutes");
    }
    forget();
    const lines = new TextDecoder().decode(output.stdout).split("\n").filter((l) =>
      l.startsWith("{")
    );
    const points: Checkpoint[] = lines.map((l) => JSON.parse(l));
    const at = (cycle: number) => points.find((p) => p.cycle === cycle);
    const first = at(10);
    const last = at(cycles);
    const later = at(3 * cycles);
    if (!output.success || !first || !last || !later) {
      throw new Error(
        `the footprint driver failed (exit ${output.code}): ` +
          new TextDecoder().decode(output.stderr).split("\n").slice(-5).join(" | "),
      );
    }
    const limit = (base: Checkpoint, key: "rss" | "heapUsed") =>
      Math.max(5, Math.round(base[key] / MB * 0.1 * 10) / 10);
    progress(
      `footprint memory: rss ${mb(first.rss)} MB (cycle 10) -> ${mb(last.rss)} MB (${cycles}) ` +
        `-> ${mb(later.rss)} MB (${3 * cycles})`,
    );
    const extra = {
      checkpoints: points.map((p) => ({
        cycle: p.cycle,
        rssMb: mb(p.rss),
        heapUsedMb: mb(p.heapUsed),
        heapTotalMb: mb(p.heapTotal),
        elapsedMs: p.elapsedMs,
      })),
      gcExposed: later.gc,
      failedCycles: later.failures,
      limitRule: "max(5 MB, 10% of the value at the first checkpoint)",
      churn: "natIds[2] refusing/up every 1.5 s",
    };
    const growth = (metric: string, from: Checkpoint, to: Checkpoint, key: "rss" | "heapUsed") =>
      row({
        scenario: "footprint",
        configuration: "new",
        metric,
        unit: "MB",
        samples: [(to[key] - from[key]) / MB],
        bounds: [{ statistic: "max", limit: limit(from, key) }],
        extra,
      });
    return [
      growth(metric, first, last, "rss"),
      growth(`RSS growth, cycle ${cycles} -> ${3 * cycles} (warmed up)`, last, later, "rss"),
      growth(`JS heap used after GC, growth 10 -> ${cycles}`, first, last, "heapUsed"),
    ];
  } catch (error) {
    return [errorRow("footprint", "new", metric, error)];
  } finally {
    clearInterval(churn);
    await vpc.close();
  }
}

/** Spawn → `router.ready` of the real program, `trials` times (new defaults). */
export async function runStartup(trials: number, progress: (m: string) => void): Promise<Row> {
  const metric = "start to first completed cycle";
  const vpc = await SimVpc.standard();
  try {
    const id = vpc.fleet.natIds[0]!;
    const samples: number[] = [];
    const boot: number[] = [];
    let failed = 0;
    for (let n = 0; n < trials; n++) {
      const spawnedAt = Date.now();
      const started = performance.now();
      const router = startRouter({
        name: "startup",
        args: routerArgs(vpc, ["--ec2-election", ...NEW_DEFAULTS.flags]),
        env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, {
          AWS_REGION: vpc.region,
        }),
      });
      const forget = onInterrupt(() => router.kill());
      try {
        await router.waitFor(/router\.ready/, 15_000);
        samples.push(performance.now() - started);
        const line = router.grep(/router\.started/)[0];
        if (line) boot.push(Date.parse(line.slice(0, 24)) - spawnedAt);
      } catch {
        failed++;
      } finally {
        if (await within(router.stop(), 5000) === undefined) await router.kill();
        forget();
      }
    }
    progress(`footprint startup: ${samples.map((s) => Math.round(s)).join(", ")} ms`);
    return row({
      scenario: "footprint",
      configuration: "new",
      metric,
      unit: "ms",
      samples,
      failed,
      bounds: [{ statistic: "max", limit: 1000 }],
      extra: {
        flags: NEW_DEFAULTS.flags,
        spawnToStartedLogMs: boot,
        note: "router of the oldest NAT (the leader) with --ec2-election; spawn to router.ready",
      },
    });
  } catch (error) {
    return errorRow("footprint", "new", metric, error);
  } finally {
    await vpc.close();
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / MB * 10) / 10;
}
