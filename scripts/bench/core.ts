/**
 * @module Scenario 6, in-process: the pure core's allocation + planning on a generated fleet
 * of 10,000 route tables and 200 NAT instances in 20 zones, and one probe sweep of 200
 * simulated NAT listeners on loopback with the real TCP probe.
 */
import { allocate } from "../../lib/core/allocate.ts";
import type { Candidate, NatInstance, RouteTable } from "../../lib/model.ts";
import { planRoutes } from "../../lib/core/plan.ts";
import { createTcpProbe, probeAll, type ProbeTarget } from "../../lib/adapters/probe.ts";
import { NatListener, type NatMode } from "../../tests/sim/nat.ts";
import { type Row, row } from "./stats.ts";

const ZONES = 20;
const INSTANCES = 200;
const TABLES = 10_000;
const WARMUP = 3;
const CORE_LIMIT_MS = 50;
const TIMEOUT_MS = 500;

/** The generated fleet: instances spread over zones, tables allocated 50 per instance. */
export function generateFleet(): { instances: NatInstance[]; routeTables: RouteTable[] } {
  const zone = (n: number) => `us-east-1-z${String(n % ZONES).padStart(2, "0")}`;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  const instances = Array.from({ length: INSTANCES }, (_, n): NatInstance => ({
    instanceId: `i-${hex(n, 17)}`,
    zone: zone(n),
    launchTime: Date.UTC(2026, 0, 1) + n * 60_000,
    privateIp: `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`,
    publicIp: undefined,
    sourceDestCheck: false,
    networkInterfaces: [{
      networkInterfaceId: `eni-${hex(n, 17)}`,
      deviceIndex: 0,
      sourceDestCheck: false,
    }],
  }));
  // Table t is in zone t % 20; within a zone the tables go round its 10 instances.
  const routeTables = Array.from({ length: TABLES }, (_, t): RouteTable => {
    const z = t % ZONES;
    const instance = instances[z + ZONES * (Math.floor(t / ZONES) % (INSTANCES / ZONES))]!;
    return {
      routeTableId: `rtb-${hex(t, 17)}`,
      zone: zone(z),
      defaultRoute: {
        instanceId: instance.instanceId,
        networkInterfaceId: instance.networkInterfaces[0]!.networkInterfaceId,
        natGatewayId: undefined,
        gatewayId: undefined,
        otherTarget: undefined,
        state: "active",
      },
    };
  });
  return { instances, routeTables };
}

interface CoreCase {
  readonly name: string;
  readonly routeTables: readonly RouteTable[];
  readonly candidates: readonly Candidate[];
}

/** allocate() + planRoutes() timings for each case, after a few warm-up runs. */
export function runCore(runs: number): Row[] {
  const { instances, routeTables } = generateFleet();
  const all: Candidate[] = instances.map((i) => ({
    instanceId: i.instanceId,
    zone: i.zone,
    recovering: false,
  }));
  const cases: CoreCase[] = [
    { name: "one NAT failed", routeTables, candidates: all.slice(1) },
    {
      name: "cold start, no routes",
      routeTables: routeTables.map((t) => ({ ...t, defaultRoute: undefined })),
      candidates: all,
    },
    { name: "steady, nothing to do", routeTables, candidates: all },
  ];
  return cases.map((c) => {
    const time = () => {
      const started = performance.now();
      const allocations = allocate(c.routeTables, c.candidates, { instances });
      const plan = planRoutes(c.routeTables, allocations, instances);
      return { ms: performance.now() - started, changes: plan.changes.length };
    };
    const warmup = Array.from({ length: WARMUP }, time);
    const measured = Array.from({ length: runs }, time);
    return row({
      scenario: "core",
      configuration: "core",
      metric: `allocate+plan 10k tables x 200 NATs, ${c.name}`,
      unit: "ms",
      samples: measured.map((m) => m.ms),
      bounds: [{ statistic: "max", limit: CORE_LIMIT_MS }],
      extra: {
        zones: ZONES,
        instances: INSTANCES,
        routeTables: TABLES,
        changes: measured[0]?.changes,
        warmupMs: warmup.map((m) => Math.round(m.ms * 10) / 10),
      },
    });
  });
}

/**
 * How many silent listeners fit: each holds about 515 descriptors (its filled backlog). The
 * limit comes from `ulimit -n` in a shell (this process inherits it; /proc/self needs -A).
 */
async function silentCount(
  wanted: number,
): Promise<{ count: number; fdLimit: number | undefined }> {
  try {
    const { stdout } = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdin: "null" })
      .output();
    const text = new TextDecoder().decode(stdout).trim();
    if (text === "unlimited") return { count: wanted, fdLimit: undefined };
    const soft = Number(text);
    if (!Number.isFinite(soft) || text === "") return { count: 20, fdLimit: undefined };
    return { count: Math.max(0, Math.min(wanted, Math.floor((soft - 3000) / 600))), fdLimit: soft };
  } catch {
    return { count: 20, fdLimit: undefined };
  }
}

/** Wall time of `probeAll` over 200 listeners (up, refusing, silent) with a 500 ms timeout. */
export async function runSweep(runs: number): Promise<Row> {
  const { count: silent, fdLimit } = await silentCount(50);
  const refusing = 50 + (50 - silent);
  const modes: NatMode[] = [
    ...Array<NatMode>(100).fill("up"),
    ...Array<NatMode>(refusing).fill("refusing"),
    ...Array<NatMode>(silent).fill("silent"),
  ];
  const listeners: NatListener[] = [];
  try {
    let port = 0;
    for (const [n] of modes.entries()) {
      const listener = new NatListener([`127.77.${Math.floor(n / 250)}.${(n % 250) + 1}`], port);
      port = listener.port;
      listeners.push(listener);
    }
    await Promise.all(
      listeners.map((l, n) => modes[n] === "up" ? undefined : l.setMode(modes[n]!)),
    );
    const probe = createTcpProbe({ port, timeoutMs: TIMEOUT_MS });
    const targets: ProbeTarget[] = listeners.map((l, n) => ({
      instanceId: `nat-${n}`,
      address: l.addresses[0],
    }));
    const samples: number[] = [];
    let wrong = 0;
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      const results = await probeAll(probe, targets);
      samples.push(performance.now() - started);
      wrong += results.filter((r, n) =>
        r.healthy !== (modes[n] === "up") ||
        (modes[n] === "silent" && r.error !== "timeout") ||
        (modes[n] === "refusing" && r.error !== "refused")
      ).length;
    }
    const result = row({
      scenario: "core",
      configuration: "core",
      metric: `probe sweep of 200 NATs (timeout ${TIMEOUT_MS} ms)`,
      unit: "ms",
      samples,
      bounds: [{ statistic: "max", limit: 1.5 * TIMEOUT_MS }],
      extra: { up: 100, refusing, silent, fdLimit, wrongVerdicts: wrong },
    });
    return { ...result, pass: result.pass === true && wrong === 0 };
  } finally {
    await Promise.all(listeners.map((l) => l.close()));
  }
}
