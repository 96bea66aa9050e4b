/**
 * @module Read-your-writes over an eventually consistent EC2: the leader remembers the
 * default routes it wrote, and for a short window trusts them over a Describe that still
 * shows the old target, so it never re-issues the same write in a loop. Pure.
 */
import type { RouteChange, RouteTable } from "../model.ts";

export interface RecentWrite {
  readonly instanceId: string;
  readonly networkInterfaceId: string | undefined;
  readonly natGatewayId: string | undefined;
  readonly at: number;
}

/** Adds the routes just written (keyed by route table id). */
export function rememberWrites(
  recent: ReadonlyMap<string, RecentWrite>,
  written: readonly RouteChange[],
  now: number,
): ReadonlyMap<string, RecentWrite> {
  const next = new Map(recent);
  for (const change of written) {
    next.set(change.routeTableId, {
      instanceId: change.to,
      networkInterfaceId: change.networkInterfaceId,
      natGatewayId: change.natGatewayId,
      at: now,
    });
  }
  return next;
}

/**
 * Applies writes younger than `windowMs` onto freshly discovered route tables whose read
 * still shows something else. A write the read already shows, or an older one, is
 * forgotten: from then on EC2's answer stands, including changes made behind our back.
 */
export function overlayRecentWrites(
  discovered: readonly RouteTable[],
  recent: ReadonlyMap<string, RecentWrite>,
  now: number,
  windowMs: number,
): { routeTables: RouteTable[]; recentWrites: ReadonlyMap<string, RecentWrite> } {
  const kept = new Map<string, RecentWrite>();
  const routeTables = discovered.map((table) => {
    const write = recent.get(table.routeTableId);
    if (!write || now - write.at > windowMs) return table;
    const route = table.defaultRoute;
    const shows = route !== undefined && route.state !== "blackhole" &&
      (write.natGatewayId !== undefined
        ? route.natGatewayId === write.natGatewayId
        : route.networkInterfaceId === write.networkInterfaceId ||
          route.instanceId === write.instanceId);
    if (shows) return table;
    kept.set(table.routeTableId, write);
    return {
      ...table,
      defaultRoute: {
        instanceId: write.natGatewayId === undefined ? write.instanceId : undefined,
        networkInterfaceId: write.networkInterfaceId,
        natGatewayId: write.natGatewayId,
        gatewayId: undefined,
        otherTarget: undefined,
        state: "active",
      },
    };
  });
  return { routeTables, recentWrites: kept };
}
