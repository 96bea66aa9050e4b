/**
 * @module The data-plane benchmark's planned departures (issue 13), next to its crash
 * figures: for each trigger (drain by command, spot interruption notice, Auto Scaling
 * termination, instance shutdown), `trials` times on a NAT carrying subnets, the hand-off
 * (from the trigger until EC2 shows no route table on the NAT), each affected subnet's switch
 * (from the trigger to its first datagram through the new NAT) and the datagrams it lost;
 * then a rolling refresh of every NAT (shutdown with its drain, boot, back healthy, its zone
 * back): datagrams lost and table moves (each resets that subnet's TCP connections).
 */
import {
  lostBetween,
  plannedMove,
  routeMark,
  tableMoves,
  TRIGGER_TEXT,
  TRIGGERS,
  undoPlanned,
} from "../../tests/netns/planned.ts";
import type { NetWorld } from "../../tests/netns/world.ts";
import type { DataplaneConfig, DataplaneOptions } from "./dataplane.ts";
import { type Row, row, sleep } from "./stats.ts";

/** Which NAT each trigger hits: the zone-b NAT (two subnets cross zones), or the leader. */
const TARGET: Readonly<Record<string, number>> = {
  drain_command: 0,
  spot_notice: 2,
  asg_termination: 2,
  shutdown: 0,
};

/** The scenario names `--scenario` takes (dataplane.ts `only`). */
export const PLANNED_SCENARIOS: readonly string[] = [...TRIGGERS, "rolling"];

/** Hand-off within 2 s of the trigger, and not one datagram lost. */
const HANDOFF_MS = 2000;

/** Rows of every planned trigger and the rolling refresh, on a world already converged. */
export async function runPlanned(
  config: DataplaneConfig,
  options: DataplaneOptions,
  world: NetWorld,
): Promise<Row[]> {
  const wanted = (name: string) => !options.only || options.only.includes(name);
  const rows: Row[] = [];
  for (const trigger of TRIGGERS.filter(wanted)) {
    const nat = world.nats[TARGET[trigger]!]!.instanceId;
    const handoffs: number[] = [];
    const switches: number[] = [];
    const lost: number[] = [];
    const trials: Record<string, unknown>[] = [];
    let failed = 0;
    for (let trial = 0; trial < options.trials; trial++) {
      try {
        await sleep(options.random() * config.probeIntervalMs);
        const outcome = await plannedMove(world, trigger, nat);
        handoffs.push(outcome.handoffMs);
        for (const move of outcome.moves) {
          switches.push(move.switchMs);
          lost.push(move.lost);
        }
        trials.push({ trial, handoffMs: outcome.handoffMs, moves: outcome.moves });
        await undoPlanned(world, trigger, nat, 90_000);
      } catch (error) {
        failed += 1;
        trials.push({ trial, error: error instanceof Error ? error.message.slice(0, 400) : error });
        options.progress(`dataplane ${trigger} ${config.name}: trial ${trial} failed`);
        await undoPlanned(world, trigger, nat, 90_000).catch(() => {});
      }
    }
    options.progress(
      `dataplane ${trigger} ${config.name}: hand-off ${handoffs.join("/")} ms, lost ${
        lost.join("/")
      }`,
    );
    const isNew = config.name === "new";
    rows.push(row({
      scenario: `dataplane: planned, ${trigger.replaceAll("_", " ")}`,
      configuration: config.name,
      metric: "hand-off (trigger to no table on the NAT in EC2)",
      unit: "ms",
      samples: handoffs,
      failed,
      ...(isNew ? { bounds: [{ statistic: "max" as const, limit: HANDOFF_MS }] } : {}),
      extra: { trigger: TRIGGER_TEXT[trigger], switchMs: switches, trials },
    }));
    rows.push(row({
      scenario: `dataplane: planned, ${trigger.replaceAll("_", " ")}`,
      configuration: config.name,
      metric: "datagrams lost per affected subnet",
      unit: "count",
      samples: lost,
      failed,
      ...(isNew ? { bounds: [{ statistic: "max" as const, limit: 0 }] } : {}),
    }));
  }
  if (wanted("rolling")) rows.push(await runRolling(config, options, world));
  return rows;
}

/** Every NAT in turn: shutdown (its drain first), boot, back healthy and its zone back. */
async function runRolling(
  config: DataplaneConfig,
  options: DataplaneOptions,
  world: NetWorld,
): Promise<Row> {
  const writes = world.sim.routeWrites.length;
  const start = routeMark(world);
  const carried = world.subnets.length;
  const from = Date.now();
  let failed = 0;
  for (const nat of world.nats) {
    try {
      await plannedMove(world, "shutdown", nat.instanceId);
      await undoPlanned(world, "shutdown", nat.instanceId, 90_000);
    } catch (error) {
      failed += 1;
      options.progress(`dataplane rolling ${config.name}: ${nat.instanceId} failed: ${error}`);
    }
  }
  const to = Date.now();
  const lost = world.subnets.map((s) => lostBetween(world, s.name, from, to));
  const moves = tableMoves(world, start);
  options.progress(`dataplane rolling ${config.name}: ${moves} moves, lost ${lost.join("/")}`);
  return row({
    scenario: `dataplane: rolling refresh of ${world.nats.length} NATs`,
    configuration: config.name,
    metric: "datagrams lost per subnet over the refresh",
    unit: "count",
    samples: lost,
    failed,
    ...(config.name === "new" ? { bounds: [{ statistic: "max" as const, limit: 0 }] } : {}),
    extra: {
      tableMoves: moves,
      routeWrites: world.sim.routeWrites.length - writes,
      tcpConnectionResets:
        `${moves} table moves: each resets its subnet's TCP connections (minimum ${
          2 * carried
        }: every table leaves its NAT once and comes back once)`,
      seconds: Math.round((to - from) / 1000),
    },
  });
}

export const PLANNED_NOTES = [
  "Planned departures: drain command = `aws-nat-router drain` run on the NAT (as the operator or the shutdown unit runs it); spot notice = spot/instance-action appears in the NAT's metadata service; ASG termination = autoscaling/target-lifecycle-state becomes Terminated (the router polls both every second); shutdown = the drain unit's ExecStop, then the router stops, then the NAT's interfaces go down. Hand-off: from the trigger until EC2 shows no route table on the NAT; lost: datagrams of each affected subnet never delivered. Each trial is undone (undrain, or boot after a shutdown) before the next.",
];
