/**
 * @module Planned departures of the namespace world as named scenarios (issue 13), shared by
 * the end-to-end tests and the data-plane benchmark: trigger one on a NAT (drain by command,
 * spot interruption notice, Auto Scaling termination, instance shutdown), read from the sink
 * how each subnet it carried moved (datagrams lost, time to the first datagram through the
 * new NAT) and from EC2 when the hand-off was complete (no table on the NAT any more), then
 * undo it so the next trial starts from the zone allocation.
 */
import { TAG_DRAINING } from "../../lib/model.ts";
import { zoneAllocation } from "./faults.ts";
import type { NetWorld } from "./world.ts";

export const TRIGGERS = ["drain_command", "spot_notice", "asg_termination", "shutdown"] as const;
export type Trigger = typeof TRIGGERS[number];

/** What each trigger does, for reports. */
export const TRIGGER_TEXT: Readonly<Record<Trigger, string>> = {
  drain_command: "aws-nat-router drain on the NAT",
  spot_notice: "spot/instance-action appears in its metadata service",
  asg_termination: "autoscaling/target-lifecycle-state becomes Terminated",
  shutdown: "the drain unit's ExecStop, then the router stops, then the instance goes down",
};

export interface PlannedMove {
  readonly subnet: string;
  readonly from: string;
  readonly to: string;
  /** From the trigger to the first datagram through the new NAT. */
  readonly switchMs: number;
  readonly lost: number;
}

export interface PlannedOutcome {
  readonly at: number;
  readonly moves: PlannedMove[];
  /** From the trigger until EC2 shows no route table on the NAT. */
  readonly handoffMs: number;
  /** The drain command's exit code (drain_command, shutdown). */
  readonly code: number | undefined;
}

/** The route tables of the world whose default route points at `instanceId` in EC2. */
export function tablesOnNat(world: NetWorld, instanceId: string): string[] {
  return world.subnets.map((s) => s.routeTableId)
    .filter((id) => world.sim.defaultRouteTarget(id) === instanceId);
}

/**
 * Triggers `kind` on `instanceId`, waits until EC2 shows no table on it and every subnet it
 * carried is carried by another NAT; returns the moves, as the sink saw them.
 */
export async function plannedMove(
  world: NetWorld,
  kind: Trigger,
  instanceId: string,
  timeoutMs = 30_000,
): Promise<PlannedOutcome> {
  const before = world.carriers();
  const affected = world.subnets.filter((s) => before[s.name] === instanceId).map((s) => s.name);
  const nat = world.nat(instanceId);
  const at = Date.now();
  let handoffAt: number | undefined;
  const watcher = (async () => {
    while (handoffAt === undefined && Date.now() - at < timeoutMs) {
      if (tablesOnNat(world, instanceId).length === 0) handoffAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  let code: number | undefined;
  switch (kind) {
    case "drain_command":
      code = (await world.runOnNat(instanceId, ["drain"])).code;
      break;
    case "spot_notice":
      nat.imds.spotInstanceAction = { action: "terminate", time: at + 120_000 };
      break;
    case "asg_termination":
      nat.imds.lifecycleState = "Terminated";
      break;
    case "shutdown":
      code = (await world.shutdown(instanceId)).code;
      break;
  }
  await watcher;
  if (handoffAt === undefined) {
    throw new Error(
      `EC2 still shows tables on ${instanceId} ${timeoutMs}ms after ${kind}; problems: ${
        world.problems.join("; ") || "none"
      }; routers:\n${
        world.routers().map((r) => `${r.name}: ${r.lines.slice(-8).join("\n  ")}`).join("\n")
      }`,
    );
  }
  await world.waitUntil(
    `the subnets on ${instanceId} (${affected.join(", ")}) move away after ${kind}`,
    () => affected.every((s) => world.blackout(s, at, instanceId) !== undefined),
    timeoutMs,
  );
  const moves = affected.map((subnet) => {
    const b = world.blackout(subnet, at, instanceId)!;
    return { subnet, from: instanceId, to: b.to, switchMs: b.ms, lost: b.lost };
  });
  return { at, moves, handoffMs: handoffAt - at, code };
}

/**
 * Undoes a planned departure so the next trial starts from the zone allocation: the notices
 * go (the group's state is `InService` again), an instance that shut down boots again (its router clears its own mark once healthy),
 * any other mark is removed with `undrain`; then waits for the zone allocation.
 */
export async function undoPlanned(
  world: NetWorld,
  kind: Trigger,
  instanceId: string,
  timeoutMs = 60_000,
): Promise<void> {
  const nat = world.nat(instanceId);
  nat.imds.spotInstanceAction = undefined;
  nat.imds.lifecycleState = "InService";
  if (kind === "shutdown") {
    await world.boot(instanceId);
  } else {
    // A notice is acted on once per router process (the instance is going away); a new
    // instance would start fresh: restart the router, as its replacement would run one.
    if (kind !== "drain_command") await world.restartRouter(instanceId);
    const undrained = await world.runOnNat(instanceId, ["undrain"]);
    if (undrained.code !== 0) {
      throw new Error(`undrain on ${instanceId} exited ${undrained.code}: ${undrained.lines}`);
    }
  }
  await world.waitUntil(
    `${instanceId} is no longer marked and the zone allocation is back after ${kind}`,
    () => world.sim.instance(instanceId)?.tags[TAG_DRAINING] === undefined && zoneAllocation(world),
    timeoutMs,
  );
}

/** Datagrams of `subnet` sent in [from, to] (by arrival) that never arrived: sequence gaps. */
export function lostBetween(world: NetWorld, subnet: string, from: number, to: number): number {
  const seqs = (world.arrivals.get(subnet) ?? []).filter((a) => a.at >= from && a.at <= to)
    .map((a) => a.seq);
  if (seqs.length === 0) return 0;
  const distinct = new Set(seqs);
  return Math.max(...seqs) - Math.min(...seqs) + 1 - distinct.size;
}

/**
 * Route writes since index `since` that changed a table's target (a repeated write of the
 * same target resets nothing): the table moves, each resetting its subnet's TCP connections.
 */
export function tableMoves(
  world: NetWorld,
  since: { readonly writes: number; readonly targets: ReadonlyMap<string, string | undefined> },
): number {
  const current = new Map(since.targets);
  let moves = 0;
  for (const write of world.sim.routeWrites.slice(since.writes)) {
    const to = write.instanceId ??
      world.sim.networkInterface(write.networkInterfaceId ?? "")?.instance.instanceId;
    if (current.get(write.routeTableId) !== to) moves += 1;
    current.set(write.routeTableId, to);
  }
  return moves;
}

/** Where each table points now and how many writes EC2 has seen: a start for `tableMoves`. */
export function routeMark(
  world: NetWorld,
): { readonly writes: number; readonly targets: ReadonlyMap<string, string | undefined> } {
  return {
    writes: world.sim.routeWrites.length,
    targets: new Map(
      world.subnets.map((s) => [s.routeTableId, world.sim.defaultRouteTarget(s.routeTableId)]),
    ),
  };
}
