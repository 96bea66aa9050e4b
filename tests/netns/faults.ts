/**
 * @module Faults of the namespace world as named scenarios, shared by the end-to-end tests,
 * the data-plane benchmark and the demo: inject one into a NAT, repair it, and read from the
 * sink which subnets it moved and how long each lost egress.
 */
import type { NetWorld } from "./world.ts";

export const FAULTS = [
  "crash",
  "hang",
  "forwarding_off",
  "outside_link_lost",
] as const;
export type FaultKind = typeof FAULTS[number];

/** What each fault does, for reports. */
export const FAULT_TEXT: Readonly<Record<FaultKind, string>> = {
  crash: "interfaces down, processes killed",
  hang: "nftables drops everything, processes frozen (SIGSTOP)",
  forwarding_off: "net.ipv4.ip_forward=0, squid still answers",
  outside_link_lost: "outside link down, squid still answers",
};

export async function inject(world: NetWorld, kind: FaultKind, instanceId: string): Promise<void> {
  switch (kind) {
    case "crash":
      return await world.crash(instanceId);
    case "hang":
      return await world.hang(instanceId);
    case "forwarding_off":
      return await world.setForwarding(instanceId, false);
    case "outside_link_lost":
      return await world.setOutsideLink(instanceId, false);
  }
}

export async function repair(world: NetWorld, kind: FaultKind, instanceId: string): Promise<void> {
  switch (kind) {
    case "crash":
      return await world.boot(instanceId);
    case "hang":
      return await world.heal(instanceId);
    case "forwarding_off":
      return await world.setForwarding(instanceId, true);
    case "outside_link_lost":
      return await world.setOutsideLink(instanceId, true);
  }
}

/**
 * Whether the sink shows the allocation the rules ask for: every subnet's latest datagram came
 * through a NAT of its own zone, and a zone's subnets are spread over its NATs evenly.
 */
export function zoneAllocation(world: NetWorld): boolean {
  const carriers = world.carriers();
  for (const zone of new Set(world.subnets.map((s) => s.zone))) {
    const nats = world.nats.filter((n) => n.zone === zone).map((n) => n.instanceId);
    const subnets = world.subnets.filter((s) => s.zone === zone);
    if (nats.length === 0) continue;
    const load = new Map(nats.map((id) => [id, 0]));
    for (const subnet of subnets) {
      const carrier = carriers[subnet.name];
      if (carrier === undefined || !load.has(carrier)) return false;
      load.set(carrier, load.get(carrier)! + 1);
    }
    const counts = [...load.values()];
    if (Math.max(...counts) - Math.min(...counts) > 1) return false;
  }
  return true;
}

export interface Move {
  readonly subnet: string;
  readonly from: string;
  readonly to: string;
  /** From the fault to the first datagram through the new carrier. */
  readonly blackoutMs: number;
  readonly lost: number;
}

/**
 * Injects `kind` into `instanceId` and waits until every subnet it carried is carried by
 * another NAT; returns the moves and the subnets it did not carry (with their carriers).
 */
export async function faultAndMove(
  world: NetWorld,
  kind: FaultKind,
  instanceId: string,
  timeoutMs = 30_000,
): Promise<{ at: number; moves: Move[]; others: Record<string, string | undefined> }> {
  const before = world.carriers();
  const affected = world.subnets.filter((s) => before[s.name] === instanceId).map((s) => s.name);
  const others = Object.fromEntries(
    Object.entries(before).filter(([name]) => !affected.includes(name)),
  );
  const at = Date.now();
  await inject(world, kind, instanceId);
  await world.waitUntil(
    `the subnets on ${instanceId} (${affected.join(", ")}) move away after ${kind}`,
    () => affected.every((s) => world.blackout(s, at, instanceId) !== undefined),
    timeoutMs,
  );
  const moves = affected.map((subnet) => {
    const b = world.blackout(subnet, at, instanceId)!;
    return { subnet, from: instanceId, to: b.to, blackoutMs: b.ms, lost: b.lost };
  });
  return { at, moves, others };
}

/** Datagrams of `subnet` since `at` that came through anything but `carrier`. */
export function strays(world: NetWorld, subnet: string, at: number, carrier: string): number {
  return (world.arrivals.get(subnet) ?? []).filter((a) =>
    a.at >= at && world.carrierOf(a.source) !== carrier
  ).length;
}
