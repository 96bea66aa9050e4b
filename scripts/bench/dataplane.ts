/**
 * @module The data-plane benchmark: egress blackout in packets, in the namespace world
 * (tests/netns/). Three NATs in two zones, four private subnets each sending a datagram every
 * 10 ms, routers running inside their NATs with exactly `-P=default`. For each fault and
 * configuration, `trials` times: wait a random part of a probe interval, inject the fault into
 * a NAT, and for each subnet it carried measure the **blackout** — from the fault to the first
 * datagram delivered through its new NAT — and the datagrams lost; then repair and wait until
 * the zone allocation is back. Plus: 20 % random loss on one NAT's health port for a window,
 * counting route moves. Needs root on Linux (the rows say so when it cannot run).
 */
import { DEFAULT_TIMING } from "../../tests/e2e.ts";
import {
  FAULT_TEXT,
  faultAndMove,
  type FaultKind,
  inject,
  repair,
  zoneAllocation,
} from "../../tests/netns/faults.ts";
import { checkHost } from "../../tests/netns/host.ts";
import { NetWorld } from "../../tests/netns/world.ts";
import { type Random } from "../../tests/sim/random.ts";
import { parseArgs } from "node:util";
import { formatTable, resultsDocument } from "./report.ts";
import { PLANNED_NOTES, PLANNED_SCENARIOS, runPlanned } from "./planned.ts";
import { benchRandom, type Bound, errorRow, type Row, row, sleep } from "./stats.ts";

export interface DataplaneConfig {
  readonly name: "new" | "baseline";
  readonly label: string;
  readonly flags: readonly string[];
  readonly probeIntervalMs: number;
}

/** The shipped defaults (failback shortened so trials end quickly; it never delays a move away). */
export const DATAPLANE_NEW: DataplaneConfig = {
  name: "new",
  label: "new defaults",
  flags: [...DEFAULT_TIMING, "--failback-delay", "1s"],
  probeIntervalMs: 600,
};

/** The original tool's settings: one connect per check, a check every 5 s, one failure flips. */
export const DATAPLANE_BASELINE: DataplaneConfig = {
  name: "baseline",
  label: "original settings",
  flags: [
    "--fall",
    "1",
    "--rise",
    "1",
    "--probe-interval",
    "5s",
    "--probe-attempts",
    "1",
    "--timeout",
    "500ms",
    "--interval",
    "5s",
    "--failback-delay",
    "1s",
  ],
  probeIntervalMs: 5000,
};

export const DATAPLANE_CONFIGS: readonly DataplaneConfig[] = [DATAPLANE_NEW, DATAPLANE_BASELINE];

const SELF_CHECK_FLAGS = (world: NetWorld) => [
  "--self-check",
  "--serve-health",
  "3127",
  "--port",
  "3127",
  "--egress-check",
  `${world.ec2Hostname}:443`,
];

interface Case {
  readonly scenario: string;
  readonly fault: FaultKind;
  /** Index of the NAT the fault hits: 0 is the oldest (the leader). */
  readonly nat: number;
  readonly selfCheck: boolean;
  /** Without the self-check the fault moves nothing: it lasts this long, then is repaired. */
  readonly holdMs?: number;
  /**
   * The leader's router is stopped (its squid answers) before the fault, and started again
   * after the repair: the next in line must make the move (succession).
   */
  readonly leaderRouterStopped?: boolean;
  readonly bounds: readonly Bound[];
}

const FAST: readonly Bound[] = [
  { statistic: "p50", limit: 1000 },
  { statistic: "p95", limit: 1500 },
];
/**
 * The crash target plus the succession bound of the shipped defaults: one EC2 request
 * timeout (`--interval` 5 s, within 2 s..10 s) plus one probe interval (600 ms) = 5.6 s.
 */
const SUCCESSION: readonly Bound[] = [
  { statistic: "p50", limit: 1000 + 5600 },
  { statistic: "p95", limit: 1500 + 5600 },
];
const SELF: readonly Bound[] = [
  { statistic: "p50", limit: 2000 },
  { statistic: "p95", limit: 3000 },
];

export const DATAPLANE_CASES: readonly Case[] = [
  { scenario: "crash", fault: "crash", nat: 2, selfCheck: false, bounds: FAST },
  { scenario: "hang", fault: "hang", nat: 2, selfCheck: false, bounds: FAST },
  { scenario: "leader crash", fault: "crash", nat: 0, selfCheck: false, bounds: FAST },
  {
    scenario: "crash, leader's router stopped",
    fault: "crash",
    nat: 2,
    selfCheck: false,
    leaderRouterStopped: true,
    bounds: SUCCESSION,
  },
  {
    scenario: "forwarding off, --self-check",
    fault: "forwarding_off",
    nat: 2,
    selfCheck: true,
    bounds: SELF,
  },
  {
    scenario: "outside link lost, --self-check",
    fault: "outside_link_lost",
    nat: 2,
    selfCheck: true,
    bounds: SELF,
  },
  {
    scenario: "forwarding off, no self-check (3 s fault)",
    fault: "forwarding_off",
    nat: 2,
    selfCheck: false,
    holdMs: 3000,
    bounds: [],
  },
  {
    scenario: "outside link lost, no self-check (3 s fault)",
    fault: "outside_link_lost",
    nat: 2,
    selfCheck: false,
    holdMs: 3000,
    bounds: [],
  },
];

export interface DataplaneOptions {
  readonly trials: number;
  readonly lossSeconds: number;
  readonly random: Random;
  readonly progress: (message: string) => void;
  /** Only these scenarios (names of DATAPLANE_CASES, or `loss`); default all. */
  readonly only?: readonly string[];
}

/** Builds a world, starts its routers, waits for the zone allocation. */
async function startWorld(config: DataplaneConfig, selfCheck: boolean): Promise<NetWorld> {
  const world = await NetWorld.build();
  try {
    const flags = selfCheck ? [...config.flags, ...SELF_CHECK_FLAGS(world)] : config.flags;
    // One by one with the self-check (see tests/netns_e2e_test.ts: a start-up race).
    await world.startRouters(
      flags,
      selfCheck ? { squid: false, oneByOne: /self_check\.passed/ } : { squid: true },
    );
    await world.waitUntil("the initial allocation", () => zoneAllocation(world), 60_000);
    return world;
  } catch (error) {
    await world.close();
    throw error;
  }
}

async function settle(world: NetWorld): Promise<void> {
  await world.waitUntil("the zone allocation is back", () => zoneAllocation(world), 90_000);
  await sleep(1000);
}

/** One row per case and configuration; samples are per affected subnet. */
async function runCase(
  testCase: Case,
  config: DataplaneConfig,
  options: DataplaneOptions,
  world: NetWorld,
): Promise<Row> {
  const metric = testCase.holdMs === undefined
    ? "blackout per affected subnet"
    : "egress outage per subnet (no move)";
  const blackouts: number[] = [];
  const lost: number[] = [];
  const trials: Record<string, unknown>[] = [];
  let failed = 0;
  for (let trial = 0; trial < options.trials; trial++) {
    const nat = world.nats[testCase.nat]!.instanceId;
    try {
      await sleep(options.random() * config.probeIntervalMs);
      if (testCase.holdMs !== undefined) {
        const affected = world.subnets.filter((s) => world.carrier(s.name) === nat);
        const at = Date.now();
        await inject(world, testCase.fault, nat);
        const injected = Date.now();
        await sleep(testCase.holdMs);
        await repair(world, testCase.fault, nat);
        const after = (name: string) =>
          (world.arrivals.get(name) ?? []).find((a) => a.at > injected + 20);
        await world.waitUntil("egress is back", () => affected.every((s) => after(s.name)));
        for (const subnet of affected) {
          const before = (world.arrivals.get(subnet.name) ?? []).filter((a) => a.at < at).at(-1);
          const next = after(subnet.name)!;
          blackouts.push(next.at - at);
          lost.push(before ? next.seq - before.seq - 1 : 0);
        }
        trials.push({ trial, affected: affected.map((s) => s.name) });
      } else {
        const leader = world.nats[0]!.instanceId;
        if (testCase.leaderRouterStopped) await world.stopRouter(leader);
        const { moves } = await faultAndMove(world, testCase.fault, nat, 60_000);
        for (const move of moves) {
          blackouts.push(move.blackoutMs);
          lost.push(move.lost);
        }
        trials.push({ trial, moves });
        await repair(world, testCase.fault, nat);
        if (testCase.leaderRouterStopped) world.startRouterAgain(leader);
      }
      await settle(world);
    } catch (error) {
      failed += 1;
      const reason = error instanceof Error ? error.message.slice(0, 400) : String(error);
      trials.push({ trial, error: reason });
      options.progress(
        `dataplane ${testCase.scenario} ${config.name}: trial ${trial} failed: ${reason}`,
      );
      await repair(world, testCase.fault, nat).catch(() => {});
      if (testCase.leaderRouterStopped && !world.nats[0]!.router) {
        world.startRouterAgain(world.nats[0]!.instanceId);
      }
      await settle(world).catch(() => {});
    }
  }
  options.progress(
    `dataplane ${testCase.scenario} ${config.name}: ${blackouts.length} samples, ` +
      `median ${[...blackouts].sort((a, b) => a - b)[blackouts.length >> 1] ?? "-"} ms`,
  );
  return row({
    scenario: `dataplane: ${testCase.scenario}`,
    configuration: config.name,
    metric,
    unit: "ms",
    samples: blackouts,
    failed,
    ...(config.name === "new" && testCase.bounds.length > 0 ? { bounds: testCase.bounds } : {}),
    extra: {
      fault: FAULT_TEXT[testCase.fault],
      lostDatagrams: lost,
      lostP50: [...lost].sort((a, b) => a - b)[lost.length >> 1],
      trials,
    },
  });
}

/** 20 % random loss on one NAT's health port for `seconds`: every route write is a move. */
async function runLoss(
  config: DataplaneConfig,
  options: DataplaneOptions,
  world: NetWorld,
): Promise<Row> {
  const nat = world.nats[1]!.instanceId;
  const first = world.sim.routeWrites.length;
  options.progress(
    `dataplane loss ${config.name}: 20% loss on ${nat}'s health port for ${options.lossSeconds} s`,
  );
  await world.loseHealthPackets(nat, 20);
  await sleep(options.lossSeconds * 1000);
  await world.heal(nat);
  const moves = world.sim.routeWrites.length - first;
  return row({
    scenario: `dataplane: 20% health-port loss, ${options.lossSeconds} s`,
    configuration: config.name,
    metric: "route moves",
    unit: "count",
    samples: [moves],
    ...(config.name === "new" ? { bounds: [{ statistic: "max", limit: 0 }] } : {}),
    extra: { seconds: options.lossSeconds, nat },
  });
}

/** Every data-plane row, both configurations side by side. */
export async function runDataplane(options: DataplaneOptions): Promise<Row[]> {
  const host = await checkHost(options.progress);
  if (!host.ok) {
    return [
      errorRow(
        "dataplane",
        "new",
        "blackout",
        `Cannot build the namespace world: missing ${host.missing}`,
      ),
    ];
  }
  const wanted = (name: string) => !options.only || options.only.includes(name);
  const rows: Row[] = [];
  for (const config of DATAPLANE_CONFIGS) {
    for (const selfCheck of [false, true]) {
      const cases = DATAPLANE_CASES.filter((c) => c.selfCheck === selfCheck && wanted(c.scenario));
      const withLoss = !selfCheck && wanted("loss");
      const withPlanned = !selfCheck && PLANNED_SCENARIOS.some(wanted);
      if (cases.length === 0 && !withLoss && !withPlanned) continue;
      let world: NetWorld | undefined;
      try {
        options.progress(
          `dataplane ${config.name}${selfCheck ? " --self-check" : ""}: building the world`,
        );
        world = await startWorld(config, selfCheck);
        for (const testCase of cases) rows.push(await runCase(testCase, config, options, world));
        if (withLoss) rows.push(await runLoss(config, options, world));
        if (withPlanned) rows.push(...await runPlanned(config, options, world)); // issue 13
      } catch (error) {
        rows.push(errorRow("dataplane", config.name, "blackout", error));
      } finally {
        await world?.close();
      }
    }
  }
  return rows;
}

export const DATAPLANE_NOTES = [
  "Data plane: the namespace world (tests/netns/): 3 NATs in 2 zones (2+1), 4 private subnets each sending a UDP datagram every 10 ms to a sink in an internet namespace; each router runs inside its NAT namespace with exactly `deno run -P=default main.ts`.",
  "Blackout: from the fault to the first datagram of each affected subnet that the sink receives through another NAT (its source after NAT); one sample per affected subnet per trial. Lost: datagrams never delivered in between.",
  "Each trial first waits a random part of a probe interval (seeded), then injects the fault, then repairs it and waits until every subnet is back on a NAT of its zone.",
  "Faults: crash = interfaces down and processes killed; hang = nftables drops every packet and the processes are SIGSTOPped; forwarding off = ip_forward=0 with squid answering; outside link lost = out0 down with squid answering. The NAT hit is the zone-b NAT (2 subnets), or the leader (oldest) for leader crash.",
  "Crash, leader's router stopped: the leader's router is killed first (its squid keeps answering, so it stays the leader), then the zone-b NAT crashes; the next in line moves its subnets once the change has stayed unmade for the succession bound (one EC2 request timeout plus one probe interval: 5.6 s with the shipped defaults, 10 s with the original settings). The router is started again after the repair.",
  "Both configurations run with --failback-delay 1s so trials end quickly; a failback delay never holds a move away from a failed NAT. Self-check rows add --self-check --serve-health 3127 --port 3127 --egress-check ec2.<region>.amazonaws.com:443 (the EC2 endpoint, reached through the outside link) and run without the squid stand-in (the router's health server is the health port).",
  "The route-write propagation delay of the VPC router is 0 (AWS does not publish one); add it to every figure for a real VPC.",
];

/** Runs the data-plane rows, writes their JSON document to `out`, prints the table. */
export async function runDataplaneReport(
  options: DataplaneOptions & {
    readonly out: string;
    readonly argv: readonly string[];
  },
): Promise<Row[]> {
  const startedAt = new Date();
  const t0 = performance.now();
  const rows = await runDataplane(options);
  const durationS = (performance.now() - t0) / 1000;
  const document = resultsDocument({
    startedAt,
    durationS,
    trials: options.trials,
    scenarios: ["dataplane"],
    argv: options.argv,
    configurations: Object.fromEntries(
      DATAPLANE_CONFIGS.map((c) => [c.name, { label: c.label, flags: c.flags }]),
    ),
    notes: [...DATAPLANE_NOTES, ...PLANNED_NOTES],
    rows,
  });
  const dir = options.out.includes("/") ? options.out.slice(0, options.out.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(options.out, JSON.stringify(document, null, 2) + "\n");
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      trials: { type: "string", default: "20" },
      "loss-seconds": { type: "string", default: "600" },
      scenario: { type: "string", multiple: true },
      out: { type: "string", default: "bench-results/dataplane.json" },
    },
  });
  const t0 = performance.now();
  const rows = await runDataplaneReport({
    trials: Number(values.trials),
    lossSeconds: Number(values["loss-seconds"]),
    ...(values.scenario ? { only: values.scenario } : {}),
    out: values.out,
    argv: ["--scenario", "dataplane", ...Deno.args],
    random: benchRandom(),
    progress: (m) =>
      // deno-lint-ignore no-console
      console.error(
        `[dataplane ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`,
      ),
  });
  // deno-lint-ignore no-console
  console.log(formatTable(rows));
  Deno.exit(rows.every((r) => r.pass !== false) ? 0 : 1);
}
