/**
 * @module Scenario 7: footprint, as a t4g.nano sees it (issue 14). Memory is what the kernel
 * reports (`proc.ts`: RssAnon, RssFile, PSS, VmHWM), CPU is the process's own CPU time
 * (utime + stime, so other load on the machine does not inflate it), EC2 calls are counted
 * by the simulated endpoint per access key (each node signs with its own role's keys).
 *
 * - Floor: a bare `deno` process, one that only loads `@aws-sdk/client-ec2` and builds a
 *   client, one that loads the program's module graph.
 * - Daemon, 3 NATs / 6 tables: the real program (`main.ts`, default flags + `--ec2-election`)
 *   on every NAT; the leader's memory at its first completed cycle, its peak over the first
 *   minute, after its 10th cycle; then every node's CPU time and EC2 calls over a steady
 *   window, extrapolated to an hour.
 * - Daemon, 20 NATs / 200 tables: the same, with 3 routers (the leader and two followers; a
 *   node's cost does not depend on how many other nodes run a router).
 * - Daemon, 3 NATs / 6 tables as spot instances in Auto Scaling groups: the same CPU and EC2
 *   figures with both planned-departure notices read every second (no target).
 * These CPU windows run first and one at a time, so no other measurement loads the machine.
 * - `status`: the real program, sampled from spawn to exit (peak: its VmHWM).
 * - Long run: `footprint_daemon.ts` (the daemon's composition, the wait between cycles cut) for
 *   10,000 cycles while one NAT fails and recovers every 30 s, memory at 10 / 1,000 / 10,000.
 * - Release binaries: `deno task compile` with `DENORT_BIN` (this Deno) as the base.
 * Start-up time (spawn to `router.ready`) is `runStartup`.
 */
import { routerArgs } from "../../tests/e2e.ts";
import { type RouterProcess, simEnv, startRouter } from "../../tests/router_process.ts";
import { SimVpc, type StandardVpc } from "../../tests/sim/vpc.ts";
import { V8_FLAGS } from "../compile.ts";
import { NEW_DEFAULTS, onInterrupt } from "./fleet.ts";
import {
  mb,
  type MemoryMb,
  memoryMb,
  type MemorySample,
  readCpuSeconds,
  readMemory,
  sampleUntil,
} from "./proc.ts";
import { errorRow, type Row, row, sleep, within } from "./stats.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DRIVER = new URL("footprint_daemon.ts", import.meta.url).pathname;
const FLOOR = new URL("floor_child.ts", import.meta.url).pathname;
const MB = 1024 * 1024;
/** One t4g.nano vCPU-minute at 100 % is one credit; a t4g.nano earns 6 per hour. */
const NANO_CREDITS_PER_HOUR = 6;

/** The V8 flags the release binary is compiled with, as `deno run` flags. */
export function v8Args(): string[] {
  return V8_FLAGS.length === 0 ? [] : [`--v8-flags=${V8_FLAGS.join(",")}`];
}

export interface FootprintOptions {
  /** Cycles of the long run (default 10,000). */
  readonly cycles: number;
  /** The steady window of the CPU and API-call measurement, seconds (default 120). */
  readonly steadySeconds: number;
  readonly progress: (message: string) => void;
}

function env(vpc: SimVpc, id: string): Record<string, string> {
  return simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, { AWS_REGION: vpc.region });
}

function spawnDeno(args: readonly string[], environment: Record<string, string>) {
  const home = Deno.env.get("HOME") ?? "/root";
  return new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      HOME: home,
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
      NO_COLOR: "1",
      ...environment,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function firstLine(stream: ReadableStream<Uint8Array>, match: RegExp): Promise<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    const found = lines.find((line) => match.test(line));
    if (found !== undefined) return found;
  }
  throw new Error(`the process ended without a line matching ${match}`);
}

/** Memory of a process that loads only part of the program, 2 s after it is loaded. */
async function floor(mode: "bare" | "sdk" | "main"): Promise<MemorySample> {
  const child = spawnDeno(["run", "-P=sim", "--quiet", ...v8Args(), FLOOR, mode], {});
  const forget = onInterrupt(async () => {
    child.kill("SIGKILL");
    await child.status;
  });
  try {
    const ready = await within(firstLine(child.stdout, /^ready$/), 60_000);
    if (ready === undefined) throw new Error(`floor_child ${mode} was not ready within 60 s`);
    await sleep(2000);
    const memory = await readMemory(child.pid);
    if (!memory) throw new Error(`floor_child ${mode} exited early`);
    return memory;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
    forget();
  }
}

/** DescribeRouteTables calls signed by `accessKeyId` so far: that node's discoveries. */
function discoveries(vpc: SimVpc, accessKeyId: string): number {
  return vpc.ec2Server.calls.filter((c) =>
    c.action === "DescribeRouteTables" && c.accessKeyId === accessKeyId
  ).length;
}

interface NodeCost {
  readonly instanceId: string;
  readonly role: string;
  readonly cpuSeconds: number;
  readonly cpuPercent: number;
  readonly creditsPerHour: number;
  /** Credits per hour as a percentage of what a t4g.nano earns. */
  readonly nanoEarningsPercent: number;
  readonly readsPerHour: number;
  readonly writesPerHour: number;
  readonly readsPerInterval: number;
  readonly callsPerHourByAction: Readonly<Record<string, number>>;
  readonly memoryAtEnd: MemoryMb | undefined;
}

interface FleetResult {
  readonly label: string;
  readonly nats: number;
  readonly tables: number;
  readonly windowSeconds: number;
  readonly nodes: readonly NodeCost[];
  readonly leaderStart?: {
    readonly atFirstCycle: MemoryMb;
    readonly peakFirstMinute: MemoryMb;
    readonly peakAnonFirstMinuteMb: number;
    readonly afterTenCycles: MemoryMb | undefined;
  };
}

const READS = new Set(["DescribeInstances", "DescribeRouteTables"]);

/**
 * Real routers (default flags + `--ec2-election`) on `routed` NATs of `vpc`: the leader's
 * start-up memory (when `sampleStart`), then CPU time and EC2 calls of each over a steady
 * window once the start-up hold (one failback delay, 30 s) is over.
 */
async function fleetCost(
  label: string,
  vpc: StandardVpc,
  routed: readonly number[],
  options: FootprintOptions & { readonly sampleStart: boolean },
): Promise<FleetResult> {
  const ids = routed.map((n) => vpc.fleet.natIds[n]!);
  const routers: RouterProcess[] = ids.map((id, n) =>
    startRouter({
      name: `${label}-router-${n + 1}`,
      args: routerArgs(vpc, ["--ec2-election", ...NEW_DEFAULTS.flags]),
      env: env(vpc, id),
    })
  );
  const forget = onInterrupt(() => Promise.all(routers.map((r) => r.kill())));
  const keys = ids.map((id) => vpc.imds(id).credentials.accessKeyId);
  try {
    const leader = routers[0]!;
    const pid = leader.pid;
    let leaderStart: FleetResult["leaderStart"];
    if (options.sampleStart) {
      const ready = leader.waitFor(/router\.ready/, 60_000);
      const firstMinute = sampleUntil(pid, sleep(60_000), 20);
      await ready;
      const atFirstCycle = await readMemory(pid);
      const tenth = (async () => {
        while (discoveries(vpc, keys[0]!) < 10) await sleep(100);
        return await readMemory(pid);
      })();
      const afterTen = await within(tenth, 90_000);
      const minute = await firstMinute;
      if (!atFirstCycle || !minute.last) throw new Error(`${label}: the leader exited`);
      leaderStart = {
        atFirstCycle: memoryMb(atFirstCycle),
        peakFirstMinute: memoryMb(minute.last),
        peakAnonFirstMinuteMb: mb(minute.peakAnon),
        afterTenCycles: afterTen ? memoryMb(afterTen) : undefined,
      };
      options.progress(
        `footprint ${label}: leader rss ${mb(atFirstCycle.rss)} MB at its first cycle, ` +
          `peak ${mb(minute.last.hwm)} MB in its first minute`,
      );
    } else {
      await Promise.all(routers.map((r) => r.waitFor(/router\.ready/, 60_000)));
    }
    // Past the start-up hold (one failback delay) and two intervals: steady from here.
    await Promise.all(routers.map((r) => r.waitFor(/router\.ready/, 60_000)));
    await sleep(40_000);
    const pids = routers.map((r) => r.pid);
    const cpu0 = await Promise.all(pids.map((p) => readCpuSeconds(p)));
    const from = Date.now();
    const t0 = performance.now();
    await sleep(options.steadySeconds * 1000);
    const cpu1 = await Promise.all(pids.map((p) => readCpuSeconds(p)));
    const to = Date.now();
    const seconds = (performance.now() - t0) / 1000;
    const memory = await Promise.all(pids.map((p) => readMemory(p)));
    const perHour = 3600 / seconds;
    const nodes = ids.map((instanceId, n): NodeCost => {
      if (cpu0[n] === undefined || cpu1[n] === undefined) {
        throw new Error(`${label}: the router of ${instanceId} exited during the window`);
      }
      const cpuSeconds = cpu1[n]! - cpu0[n]!;
      const calls = vpc.ec2Server.calls.filter((c) =>
        c.accessKeyId === keys[n] && c.time >= from && c.time < to
      );
      const reads = calls.filter((c) => READS.has(c.action)).length;
      const cpuPercent = cpuSeconds / seconds * 100;
      return {
        instanceId,
        role: routers[n]!.grep(/leader\.changed/).at(-1)?.match(/role=(\w+)/)?.[1] ?? "?",
        cpuSeconds: Math.round(cpuSeconds * 100) / 100,
        cpuPercent: Math.round(cpuPercent * 1000) / 1000,
        // % of one vCPU × 60 minutes / 100 = vCPU-minutes per hour = credits per hour.
        creditsPerHour: Math.round(cpuPercent * 60 / 100 * 1000) / 1000,
        nanoEarningsPercent: Math.round(cpuPercent * 60 / NANO_CREDITS_PER_HOUR * 10) / 10,
        readsPerHour: Math.round(reads * perHour),
        writesPerHour: Math.round((calls.length - reads) * perHour),
        readsPerInterval: Math.round(reads / (seconds / (NEW_DEFAULTS.intervalMs / 1000)) * 100) /
          100,
        callsPerHourByAction: Object.fromEntries(
          [...new Set(calls.map((c) => c.action))].map((action) => [
            action,
            Math.round(calls.filter((c) => c.action === action).length * perHour),
          ]),
        ),
        memoryAtEnd: memory[n] ? memoryMb(memory[n]!) : undefined,
      };
    });
    options.progress(
      `footprint ${label}: ` +
        nodes.map((n) => `${n.role} ${n.cpuPercent}% cpu ${n.readsPerHour} reads/h`).join(", "),
    );
    return {
      label,
      nats: vpc.fleet.natIds.length,
      tables: vpc.fleet.routeTableIds.length,
      windowSeconds: Math.round(seconds),
      nodes,
      ...(leaderStart ? { leaderStart } : {}),
    };
  } finally {
    await Promise.allSettled(routers.map(async (r) => {
      if (await within(r.stop(), 5000) === undefined) await r.kill();
    }));
    forget();
  }
}

/** `status` (default flags) from spawn to exit, sampled as often as `cat` can; `runs` times. */
async function statusMemory(vpc: StandardVpc, runs: number) {
  const results = [];
  for (let n = 0; n < runs; n++) {
    const child = spawnDeno(
      [
        "run",
        "-P",
        "--allow-net=127.0.0.0/8",
        "--no-prompt",
        "--quiet",
        ...v8Args(),
        "main.ts",
        "status",
        ...routerArgs(vpc),
      ],
      env(vpc, vpc.fleet.natIds[0]!),
    );
    const output = child.output();
    const sampled = await sampleUntil(child.pid, output, 5);
    const { code } = await output;
    if (code !== 0 || !sampled.last) throw new Error(`status exited ${code}`);
    results.push({
      ...memoryMb(sampled.last),
      peakAnonMb: mb(sampled.peakAnon),
      samples: sampled.samples,
    });
  }
  return results;
}

interface Checkpoint extends MemorySample {
  readonly cycle: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly elapsedMs: number;
  readonly failures: number;
}

/** The long run: `footprint_daemon.ts` as the leader of a 3-NAT VPC for `cycles` cycles. */
async function longRun(options: FootprintOptions): Promise<Checkpoint[]> {
  const vpc = await SimVpc.standard();
  let churn: ReturnType<typeof setInterval> | undefined;
  try {
    const flaky = vpc.fleet.natIds[2]!;
    let down = false;
    churn = setInterval(() => { // fails for 5 s, recovers for 25 s: route writes both ways
      down = !down;
      vpc.nat(flaky).setMode(down ? "refusing" : "up").catch(() => {});
    }, 15_000);
    const checkpoints = [10, 100, 1000, 2000, 5000, options.cycles].filter((c) =>
      c <= options.cycles
    );
    const child = spawnDeno([
      "run",
      "-P=sim",
      "--quiet",
      "--no-prompt",
      ...v8Args(),
      DRIVER,
      "--imds",
      vpc.imdsEndpoint(vpc.fleet.natIds[0]!),
      "--cycles",
      String(options.cycles),
      "--checkpoints",
      checkpoints.join(","),
      "--",
      ...routerArgs(vpc, ["--ec2-election", ...NEW_DEFAULTS.flags]),
    ], { AWS_REGION: vpc.region, AWS_ENDPOINT_URL_EC2: vpc.ec2Endpoint });
    const forget = onInterrupt(async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    });
    const points: Checkpoint[] = [];
    const reading = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines.filter((l) => l.startsWith("{"))) {
          const memory = await readMemory(child.pid);
          if (!memory) continue;
          const point = { ...JSON.parse(line), ...memory } as Checkpoint;
          points.push(point);
          options.progress(
            `footprint long run: cycle ${point.cycle}: rss ${mb(point.rss)} MB, ` +
              `anon ${mb(point.rssAnon)} MB, heap ${mb(point.heapUsed)} MB`,
          );
        }
      }
    })();
    const stderr = new Response(child.stderr).text();
    // 10,000 cycles of 25 ms sleeps are about 10 minutes; a busy machine may need twice that.
    const status = await within(child.status, Math.max(20, options.cycles / 200) * 60_000);
    if (status === undefined) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await reading;
    const errors = await stderr;
    forget();
    if (status === undefined || !status.success) {
      throw new Error(
        `the footprint driver ${status ? `exited ${status.code}` : "timed out"}: ` +
          errors.split("\n").slice(-5).join(" | "),
      );
    }
    return points;
  } finally {
    clearInterval(churn);
    await vpc.close();
  }
}

/** Sizes of the release binaries, built here with this Deno as the base (`DENORT_BIN`). */
async function binarySizes() {
  // Inside dist/: the only place the compile permission set may write.
  const dir = `${ROOT}dist/footprint-bench-${Date.now()}`;
  try {
    const child = spawnDeno(
      ["run", "-P=compile", "scripts/compile.ts", "--out-dir", dir],
      { DENORT_BIN: Deno.execPath() },
    );
    const output = await child.output();
    if (!output.success) {
      throw new Error(
        `deno task compile failed: ${new TextDecoder().decode(output.stderr).slice(-400)}`,
      );
    }
    const base = (await Deno.stat(Deno.execPath())).size;
    const sizes: Record<string, { binaryMb: number; payloadMb: number }> = {};
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith("aws-nat-router-")) continue;
      const size = (await Deno.stat(`${dir}/${entry.name}`)).size;
      sizes[entry.name] = { binaryMb: mb(size), payloadMb: mb(size - base) };
    }
    return { baseMb: mb(base), sizes };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every footprint figure; rows with the issue's targets. */
export async function runFootprint(options: FootprintOptions): Promise<Row[]> {
  const { progress } = options;
  const rows: Row[] = [];
  const add = (
    metric: string,
    unit: Row["unit"],
    samples: readonly number[],
    limit?: number,
    extra?: Record<string, unknown>,
  ) =>
    rows.push(row({
      scenario: "footprint",
      configuration: "new",
      metric,
      unit,
      samples,
      ...(limit !== undefined ? { bounds: [{ statistic: "max" as const, limit }] } : {}),
      ...(extra ? { extra } : {}),
    }));
  const guarded = async <T>(metric: string, task: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await task();
    } catch (error) {
      rows.push(errorRow("footprint", "new", metric, error));
      return undefined;
    }
  };
  const v8 = { v8Flags: [...V8_FLAGS] };

  const small = await guarded("3 NATs / 6 tables", async () => {
    const vpc = await SimVpc.standard();
    try {
      const fleet = await fleetCost("3 NATs/6 tables", vpc, [0, 1, 2], {
        ...options,
        sampleStart: true,
      });
      const status = await statusMemory(vpc, 3);
      return { fleet, status };
    } finally {
      await vpc.close();
    }
  });
  const large = await guarded("20 NATs / 200 tables", async () => {
    const vpc = await SimVpc.standard({ zoneCount: 4, zones: [5, 5, 5, 5], tablesPerZone: 50 });
    try {
      return await fleetCost("20 NATs/200 tables", vpc, [0, 1, 19], {
        ...options,
        sampleStart: false,
      });
    } finally {
      await vpc.close();
    }
  });
  // The same small fleet as spot instances in Auto Scaling groups: every node then reads both
  // planned-departure notices from its metadata service every second.
  const spot = await guarded("3 NATs / 6 tables, spot in Auto Scaling groups", async () => {
    const vpc = await SimVpc.standard();
    try {
      for (const id of vpc.fleet.natIds) {
        vpc.imds(id).lifeCycle = "spot";
        vpc.imds(id).lifecycleState = "InService";
      }
      return await fleetCost("3 NATs/6 tables, spot in Auto Scaling groups", vpc, [0, 1, 2], {
        ...options,
        sampleStart: false,
      });
    } finally {
      await vpc.close();
    }
  });
  // CPU first, on a quiet machine; the long run (minutes) then runs while the memory-only
  // measurements do.
  progress(`footprint: long run of ${options.cycles} cycles started (in the background)`);
  const long = guarded("long run", () => longRun(options));
  const floors = await guarded("floor", async () => ({
    bare: await floor("bare"),
    sdk: await floor("sdk"),
    main: await floor("main"),
  }));
  if (floors) {
    for (
      const [name, label] of [
        ["bare", "floor: bare deno"],
        ["sdk", "floor: @aws-sdk/client-ec2 + a client"],
        ["main", "floor: main.ts module graph loaded"],
      ] as const
    ) {
      add(`${label}, RSS`, "MB", [mb(floors[name].rss)], undefined, {
        ...memoryMb(floors[name]),
        ...v8,
      });
      add(`${label}, RSS anon`, "MB", [mb(floors[name].rssAnon)]);
    }
    progress(
      `footprint floor: bare ${mb(floors.bare.rss)} MB, sdk ${mb(floors.sdk.rss)} MB, ` +
        `main ${mb(floors.main.rss)} MB`,
    );
  }

  if (small) {
    const start = small.fleet.leaderStart;
    if (start) {
      add("daemon RSS at its first completed cycle", "MB", [start.atFirstCycle.rssMb], undefined, {
        ...start,
        ...v8,
      });
      add("daemon RSS anon at its first completed cycle", "MB", [start.atFirstCycle.rssAnonMb]);
      add("daemon peak RSS, first minute (VmHWM)", "MB", [start.peakFirstMinute.peakRssMb], 110);
      add("daemon peak RSS anon, first minute", "MB", [start.peakAnonFirstMinuteMb]);
      if (start.afterTenCycles) {
        add("daemon RSS anon after 10 cycles (real time)", "MB", [
          start.afterTenCycles.rssAnonMb,
        ]);
      }
    }
    add("status peak RSS (VmHWM)", "MB", small.status.map((s) => s.peakRssMb), undefined, {
      runs: small.status,
      ...v8,
    });
    add("status peak RSS anon", "MB", small.status.map((s) => s.peakAnonMb));
  }
  for (const [result, limit] of [[small?.fleet, 0.5], [large, 2], [spot, undefined]] as const) {
    if (!result) continue;
    const { nodes, label } = result;
    const extra = { ...result, leaderStart: undefined, ...v8 };
    add(`CPU, ${label}, % of one vCPU`, "%", nodes.map((n) => n.cpuPercent), limit, extra);
    add(`CPU credits per hour, ${label}`, "credits/h", nodes.map((n) => n.creditsPerHour));
    add(
      `EC2 reads per interval per node, ${label}`,
      "count",
      nodes.map((n) => n.readsPerInterval),
      2,
    );
    add(`EC2 reads per hour per node, ${label}`, "per h", nodes.map((n) => n.readsPerHour));
    add(`EC2 writes per hour per node, ${label}`, "per h", nodes.map((n) => n.writesPerHour));
  }

  const sizes = await guarded("release binaries", binarySizes);
  if (sizes) {
    for (const [name, size] of Object.entries(sizes.sizes)) {
      add(`binary size, ${name}`, "MB", [size.binaryMb], undefined, {
        ...size,
        baseMb: sizes.baseMb,
        note: "built with DENORT_BIN = this deno: payloadMb is what the program adds to the base",
      });
    }
  }

  const points = await long;
  if (points) {
    const at = (cycle: number) => points.find((p) => p.cycle === cycle);
    const first = at(10);
    const mid = at(Math.min(1000, options.cycles));
    const last = at(options.cycles);
    const extra = {
      checkpoints: points.map((p) => ({
        cycle: p.cycle,
        ...memoryMb(p),
        heapUsedMb: mb(p.heapUsed),
        heapTotalMb: mb(p.heapTotal),
        elapsedMs: p.elapsedMs,
        failures: p.failures,
      })),
      churn: "natIds[2] refusing/up every 15 s",
      driver:
        "footprint_daemon.ts: main.ts's composition, the wait between cycles 200 times shorter",
      ...v8,
    };
    if (first) add("long run: RSS anon after 10 cycles", "MB", [mb(first.rssAnon)]);
    if (mid && mid !== last) {
      add(`long run: RSS anon after ${mid.cycle} cycles`, "MB", [mb(mid.rssAnon)]);
    }
    if (last) {
      add(`long run: RSS anon after ${last.cycle} cycles`, "MB", [mb(last.rssAnon)], 45, extra);
      add(`long run: RSS after ${last.cycle} cycles`, "MB", [mb(last.rss)]);
      add(`long run: PSS after ${last.cycle} cycles`, "MB", [mb(last.pss ?? 0)]);
    }
    if (mid && last && mid !== last) {
      add(`long run: RSS growth, cycle ${mid.cycle} -> ${last.cycle}`, "MB", [
        (last.rss - mid.rss) / MB,
      ], 2);
    }
  }
  return rows;
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
        env: env(vpc, id),
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
