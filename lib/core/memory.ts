/**
 * @module What a node remembers between cycles, as one value changed only here: the default
 * routes it wrote (read-your-writes over an eventually consistent EC2), when each route
 * table's default route last changed (the ping-pong hold-down), the source/destination check
 * changes it issued (not re-issued while EC2 may still show the old value), the recoveries it
 * ran, and what it last decided about acting. Every entry is pruned: tables and instances
 * that are gone, and times older than the window that reads them, are forgotten, so nothing
 * grows without bound while a fleet comes and goes. Pure: time is an argument.
 */
import type { RecoveryChange, RouteChange, RouteTable, SourceDestCheckChange } from "../model.ts";
import { routeTargetId } from "./plan.ts";

/** A default route this node wrote, trusted over a Describe that still shows the old one. */
export interface RecentWrite {
  readonly instanceId: string;
  readonly networkInterfaceId: string | undefined;
  readonly natGatewayId: string | undefined;
  readonly at: number;
}

export interface Memory {
  /** Default routes written within the trust window, by route table id. */
  readonly recentWrites: ReadonlyMap<string, RecentWrite>;
  /** When each route table's default route was last seen to change (by anyone). */
  readonly changedAt: ReadonlyMap<string, number>;
  /** When each source/dest check change was last issued, by `sourceDestCheckKey`. */
  readonly sourceDestChecks: ReadonlyMap<string, number>;
  /** When each instance was last rebooted or terminated. */
  readonly recoveries: ReadonlyMap<string, number>;
  /**
   * Route tables whose write failed, by the view generation it failed on: the same write is
   * not retried before EC2 is read again (a deleted table, a denied call: no tight loop).
   */
  readonly failedWrites: ReadonlyMap<string, number>;
  /** When the daemon started; `undefined` for `--once` and `status` (no start-up hold). */
  readonly startedAt: number | undefined;
  /** Whether the last decision found this node acting. */
  readonly acting: boolean;
  /** The generation of the view on which this node last decided not to act. */
  readonly followedOn: number | undefined;
}

/** The windows that bound what memory keeps. */
export interface MemorySettings {
  /** How long the node trusts its own writes, and does not repeat a source/dest check call. */
  readonly writeTrustMs: number;
  /** The least time between two recoveries of one instance. */
  readonly recoveryAfterMs: number;
}

/** A node's memory before its first cycle; `startedAt` only for the daemon. */
export function freshMemory(startedAt?: number): Memory {
  return {
    recentWrites: new Map(),
    changedAt: new Map(),
    sourceDestChecks: new Map(),
    recoveries: new Map(),
    failedWrites: new Map(),
    startedAt,
    acting: false,
    followedOn: undefined,
  };
}

/** The key of a source/dest check change: an instance, or one of its interfaces. */
export function sourceDestCheckKey(change: SourceDestCheckChange): string {
  return `${change.instanceId}/${change.networkInterfaceId ?? ""}`;
}

/**
 * A fresh read of EC2: overlays the node's recent writes on tables whose read still shows
 * something else, notes which default routes changed since `previous` (the view before),
 * and forgets tables and instances that are gone and times past their window.
 */
export function rememberDiscovery(
  memory: Memory,
  previous: readonly RouteTable[] | undefined,
  discovered: readonly RouteTable[],
  instanceIds: readonly string[],
  now: number,
  settings: MemorySettings,
): { readonly memory: Memory; readonly routeTables: RouteTable[] } {
  const overlaid = overlayRecentWrites(discovered, memory.recentWrites, now, settings.writeTrustMs);
  const instances = new Set(instanceIds);
  return {
    memory: {
      ...memory,
      recentWrites: overlaid.recentWrites,
      changedAt: noteChanges(memory.changedAt, previous, overlaid.routeTables, now),
      sourceDestChecks: keepRecent(
        memory.sourceDestChecks,
        now,
        settings.writeTrustMs,
        (key) => instances.has(key.slice(0, key.indexOf("/"))),
      ),
      recoveries: keepRecent(
        memory.recoveries,
        now,
        settings.recoveryAfterMs,
        (id) => instances.has(id),
      ),
      failedWrites: new Map(),
    },
    routeTables: overlaid.routeTables,
  };
}

/**
 * What the node decided about acting. Its own writes are trusted over stale reads only while
 * it is the writer: once another node may write, EC2's answer stands (else a takeover would
 * wait for the trust window).
 */
export function rememberRole(memory: Memory, acting: boolean, generation: number): Memory {
  if (acting) return memory.acting ? memory : { ...memory, acting };
  return { ...memory, acting, followedOn: generation, recentWrites: new Map() };
}

/** What was applied: routes written, source/dest check calls issued, recoveries run. */
export interface Applied {
  readonly routes: readonly RouteChange[];
  readonly sourceDestChecks: readonly SourceDestCheckChange[];
  readonly recoveries: readonly RecoveryChange[];
  /** Route tables whose write failed, and the generation of the view it was planned on. */
  readonly failedRoutes?: {
    readonly routeTableIds: readonly string[];
    readonly generation: number;
  };
}

/** Records what the node just did: `decidedAt` notes the table changes and recoveries. */
export function rememberApplied(
  memory: Memory,
  applied: Applied,
  decidedAt: number,
  now: number,
): Memory {
  const recentWrites = new Map(memory.recentWrites);
  const changedAt = new Map(memory.changedAt);
  for (const change of applied.routes) {
    recentWrites.set(change.routeTableId, {
      instanceId: change.to,
      networkInterfaceId: change.networkInterfaceId,
      natGatewayId: change.natGatewayId,
      at: now,
    });
    changedAt.set(change.routeTableId, decidedAt);
  }
  const sourceDestChecks = new Map(memory.sourceDestChecks);
  for (const change of applied.sourceDestChecks) {
    sourceDestChecks.set(sourceDestCheckKey(change), decidedAt);
  }
  const recoveries = new Map(memory.recoveries);
  for (const change of applied.recoveries) recoveries.set(change.instanceId, decidedAt);
  const failedWrites = new Map(memory.failedWrites);
  for (const id of applied.failedRoutes?.routeTableIds ?? []) {
    failedWrites.set(id, applied.failedRoutes!.generation);
  }
  return { ...memory, recentWrites, changedAt, sourceDestChecks, recoveries, failedWrites };
}

/** The source/dest check changes not issued within the trust window. */
export function notRecentlyIssued(
  memory: Memory,
  changes: readonly SourceDestCheckChange[],
  now: number,
  writeTrustMs: number,
): SourceDestCheckChange[] {
  return changes.filter((change) => {
    const last = memory.sourceDestChecks.get(sourceDestCheckKey(change));
    return last === undefined || now - last >= writeTrustMs;
  });
}

/** The route tables whose default route changed less than `windowMs` ago. */
export function recentlyChanged(memory: Memory, now: number, windowMs: number): Set<string> {
  return new Set(
    [...memory.changedAt].filter(([, at]) => now - at < windowMs).map(([id]) => id),
  );
}

function keepRecent(
  times: ReadonlyMap<string, number>,
  now: number,
  windowMs: number,
  keep: (key: string) => boolean,
): ReadonlyMap<string, number> {
  return new Map([...times].filter(([key, at]) => now - at < windowMs && keep(key)));
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

/** A route's identity for change detection: its target and whether it is blackholed. */
function routeKey(table: RouteTable): string {
  const route = table.defaultRoute;
  return route ? `${routeTargetId(route)}/${route.state}` : "";
}

/**
 * Notes when each route table's default route was seen to change between two views (by
 * this router or anyone else); forgets tables that are gone. The first view notes nothing.
 */
export function noteChanges(
  changedAt: ReadonlyMap<string, number>,
  before: readonly RouteTable[] | undefined,
  after: readonly RouteTable[],
  now: number,
): Map<string, number> {
  const previous = new Map((before ?? []).map((table) => [table.routeTableId, routeKey(table)]));
  const next = new Map<string, number>();
  for (const table of after) {
    const was = previous.get(table.routeTableId);
    const at = before !== undefined && was !== undefined && was !== routeKey(table)
      ? now
      : changedAt.get(table.routeTableId);
    if (at !== undefined) next.set(table.routeTableId, at);
  }
  return next;
}
