/**
 * @module What a node remembers between cycles, as one value changed only here: the default
 * routes it wrote (read-your-writes over an eventually consistent EC2), when each route
 * table's default route last changed (the ping-pong hold-down), the source/destination check
 * changes it issued (not re-issued while EC2 may still show the old value), the recoveries it
 * ran, and what it last decided about acting. Every entry is pruned: tables and instances
 * that are gone, and times older than the window that reads them, are forgotten, so nothing
 * grows without bound while a fleet comes and goes. Pure: time is an argument.
 */
import type {
  NatInstance,
  RecoveryChange,
  RouteChange,
  RouteTable,
  SourceDestCheckChange,
} from "../model.ts";
import { interfaceOwners, routeInstanceId } from "./allocate.ts";
import type { HealthState } from "./health.ts";
import { routeTargetId } from "./plan.ts";

/** A default route this node wrote, trusted over a Describe that still shows the old one. */
export interface RecentWrite {
  readonly instanceId: string;
  readonly networkInterfaceId: string | undefined;
  readonly natGatewayId: string | undefined;
  readonly at: number;
}

/** What this node last wrote to a route table (a NAT instance or gateway id), and when. */
export interface Written {
  readonly target: string;
  readonly at: number;
}

/**
 * A route table this node wrote that another cluster node then moved to a NAT this node
 * sees unhealthy: two nodes disagree about health (a security-group mistake on the health
 * port, one way or both). This node backs off that table until `until`.
 */
export interface Fight {
  readonly routeTableId: string;
  /** The NAT instance the other node moved it to. */
  readonly movedTo: string;
  /** Fights seen on this table in a row; the back-off doubles with each. */
  readonly count: number;
  readonly at: number;
  readonly until: number;
}

/** The longest back-off on one table (the first is `splitBackoffMs`, doubling up to this). */
export const MAX_SPLIT_BACKOFF_MS = 32 * 60_000;

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
  /** The last target this node wrote to each route table (kept until the table moves on). */
  readonly written: ReadonlyMap<string, Written>;
  /** Suspected splits, by route table id (kept while they matter for the back-off). */
  readonly fights: ReadonlyMap<string, Fight>;
  /** Since when each change that restores service has been required (for succession). */
  readonly pending: ReadonlyMap<string, number>;
  /** When EC2 was last read, and the time before (`undefined`: not yet). */
  readonly readAt: number | undefined;
  readonly previousReadAt: number | undefined;
  /** The NAT instance each route table's default route pointed at in EC2's latest answer. */
  readonly routed: ReadonlyMap<string, string>;
  /** The same at the read before. */
  readonly routedBefore: ReadonlyMap<string, string>;
  /**
   * NAT instances this node sees unhealthy but that another node evidently sees healthy — a
   * route table was moved to one (not by this node), or stays on one a read after this node
   * saw it fail — by when that was last seen. Never recovered while listed: the instance is
   * alive for someone. Forgotten once seen healthy, or when no sign came for the longest
   * split back-off plus `splitBackoffMs` (a peer that backs off shows itself again by then).
   */
  readonly contested: ReadonlyMap<string, number>;
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
  /** The first back-off on a suspected split. */
  readonly splitBackoffMs: number;
}

/** A node's memory before its first cycle; `startedAt` only for the daemon. */
export function freshMemory(startedAt?: number): Memory {
  return {
    recentWrites: new Map(),
    changedAt: new Map(),
    sourceDestChecks: new Map(),
    recoveries: new Map(),
    failedWrites: new Map(),
    written: new Map(),
    fights: new Map(),
    pending: new Map(),
    readAt: undefined,
    previousReadAt: undefined,
    routed: new Map(),
    routedBefore: new Map(),
    contested: new Map(),
    startedAt,
    acting: false,
    followedOn: undefined,
  };
}

/** The key of a source/dest check change: an instance, or one of its interfaces. */
export function sourceDestCheckKey(change: SourceDestCheckChange): string {
  return `${change.instanceId}/${change.networkInterfaceId ?? ""}`;
}

/** A fresh read of EC2, and what the node saw just before it. */
export interface Discovery {
  /** The route tables of the view before, if any. */
  readonly previous: readonly RouteTable[] | undefined;
  readonly discovered: readonly RouteTable[];
  /** The running NAT instances of the cluster. */
  readonly instances: readonly NatInstance[];
  /** This node's health verdicts when EC2 was read. */
  readonly health: HealthState;
  readonly now: number;
}

/**
 * A fresh read of EC2: overlays the node's recent writes on tables whose read still shows
 * something else, notes which default routes changed since the view before, and forgets
 * tables and instances that are gone and times past their window.
 */
export function rememberDiscovery(
  memory: Memory,
  discovery: Discovery,
  settings: MemorySettings,
): { readonly memory: Memory; readonly routeTables: RouteTable[] } {
  const { previous, discovered, now } = discovery;
  const overlaid = overlayRecentWrites(discovered, memory.recentWrites, now, settings.writeTrustMs);
  const instances = new Set(discovery.instances.map((i) => i.instanceId));
  const tables = new Set(discovered.map((t) => t.routeTableId));
  const owners = interfaceOwners(discovery.instances);
  const routed = new Map(discovered.flatMap((table) => {
    const target = table.defaultRoute && routeInstanceId(table.defaultRoute, owners);
    return target ? [[table.routeTableId, target] as const] : [];
  }));
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
      readAt: now,
      previousReadAt: memory.readAt,
      routed,
      routedBefore: memory.routed,
      // A peer that stopped fighting shows itself again when its back-off ends: the longest
      // back-off, and one more, is how long the lack of a new sign proves nothing.
      contested: noteContested(
        memory,
        routed,
        discovery.health,
        now,
        MAX_SPLIT_BACKOFF_MS + settings.splitBackoffMs,
      ),
      written: new Map([...memory.written].filter(([id]) => tables.has(id))),
      fights: new Map(
        [...memory.fights].filter(([id, fight]) =>
          tables.has(id) && now - fight.at < MAX_SPLIT_BACKOFF_MS
        ),
      ),
    },
    routeTables: overlaid.routeTables,
  };
}

/**
 * The contested NATs after a read (see `Memory.contested`). A table EC2 now shows on a NAT
 * this node sees unhealthy is a sign another node sees it healthy when the table moved there
 * since the previous read and this node did not move it, or when it was already there at
 * that read and the NAT has been down here since before it: a live leader moves a table off a
 * failed NAT within one read (this node, when it leads, included). A failback just before a
 * crash looks like the first; the cost is a recovery delayed, never a route left wrong.
 */
function noteContested(
  memory: Memory,
  routed: ReadonlyMap<string, string>,
  health: HealthState,
  now: number,
  windowMs: number,
): Map<string, number> {
  const down = (id: string) => health.get(id)?.healthy === false;
  const contested = new Map(
    [...memory.contested].filter(([id, at]) => down(id) && now - at < windowMs),
  );
  for (const [table, target] of routed) {
    if (!down(target)) continue;
    const sign = memory.routed.get(table) !== target
      ? memory.written.get(table)?.target !== target
      : downSince(health, target, memory.readAt);
    if (sign) contested.set(target, now);
  }
  return contested;
}

/** Whether `id` is unhealthy and has been since `at` or before (never when `at` is unknown). */
function downSince(health: HealthState, id: string, at: number | undefined): boolean {
  const state = health.get(id);
  return at !== undefined && state?.healthy === false && state.since <= at;
}

/**
 * What `findFights` found: new fights, tables another node took over in agreement, and
 * fights that are over (this node sees the other node's target healthy again).
 */
export interface FoundFights {
  readonly noticed: readonly Fight[];
  readonly released: readonly string[];
  readonly healed: readonly string[];
}

/**
 * The fights the view shows. A table this node wrote (or that pointed at this node itself at
 * the read before: someone moved it away from a NAT this node sees healthy) now points at
 * another running NAT of the cluster: if this node is sure that NAT is unhealthy (unhealthy
 * without a break since before the read preceding the one that showed the move, so the move
 * was not made before it failed, and its latest probe failed too), another node that sees it
 * healthy moved it — a suspected split; otherwise the other node simply took the table over,
 * and it is no longer this node's (`released`).
 * Each move is noticed once (`rememberFights`).
 */
export function findFights(
  memory: Memory,
  view: {
    readonly instances: readonly NatInstance[];
    readonly routeTables: readonly RouteTable[];
    readonly health: HealthState;
  },
  now: number,
  splitBackoffMs: number,
  self?: string,
): FoundFights {
  const owners = interfaceOwners(view.instances);
  const running = new Set(view.instances.map((i) => i.instanceId));
  const noticed: Fight[] = [];
  const released: string[] = [];
  const healed = [...memory.fights.values()]
    .filter((fight) => view.health.get(fight.movedTo)?.healthy === true)
    .map((fight) => fight.routeTableId);
  for (const table of view.routeTables) {
    const mine = memory.written.get(table.routeTableId) ??
      (self !== undefined && memory.routedBefore.get(table.routeTableId) === self
        ? { target: self }
        : undefined);
    const route = table.defaultRoute;
    if (mine === undefined || route === undefined) continue;
    const target = routeInstanceId(route, owners);
    if (target === undefined || target === mine.target || !running.has(target)) continue;
    const health = view.health.get(target);
    if (health?.healthy !== false || health.successes > 0) {
      released.push(table.routeTableId);
      continue;
    }
    // Not down here all along since the read before: it may have failed after the move (or
    // come back, taken the table and failed again in between), which was then no fight.
    // Either way the table is the other node's now; a later move by this node starts anew.
    if (!downSince(view.health, target, memory.previousReadAt)) {
      released.push(table.routeTableId);
      continue;
    }
    const count = (memory.fights.get(table.routeTableId)?.count ?? 0) + 1;
    const backoff = Math.min(splitBackoffMs * 2 ** (count - 1), MAX_SPLIT_BACKOFF_MS);
    noticed.push({
      routeTableId: table.routeTableId,
      movedTo: target,
      count,
      at: now,
      until: now + backoff,
    });
  }
  return { noticed, released, healed };
}

/** Records since when each change that restores service has been required (the decision's). */
export function rememberPending(memory: Memory, pending: ReadonlyMap<string, number>): Memory {
  return { ...memory, pending };
}

/** Records what `findFights` found: a noticed move is not noticed again. */
export function rememberFights(memory: Memory, found: FoundFights): Memory {
  if (found.noticed.length + found.released.length + found.healed.length === 0) return memory;
  const written = new Map(memory.written);
  const fights = new Map(memory.fights);
  for (const id of found.released) written.delete(id);
  for (const id of found.healed) fights.delete(id); // over: a later fight starts from one
  for (const fight of found.noticed) {
    fights.set(fight.routeTableId, fight);
    // Noticed once: the table counts as written to where it was moved (also one this node
    // never wrote, that was on itself), so the same move is not a new fight at the next look.
    const mine = written.get(fight.routeTableId);
    written.set(fight.routeTableId, { at: mine?.at ?? fight.at, target: fight.movedTo });
  }
  return { ...memory, written, fights };
}

/** The fights whose back-off is still running at `now`, sorted by route table id. */
export function activeFights(memory: Memory, now: number): Fight[] {
  return [...memory.fights.values()]
    .filter((fight) => fight.until > now)
    .sort((
      a,
      b,
    ) => (a.routeTableId < b.routeTableId ? -1 : a.routeTableId > b.routeTableId ? 1 : 0));
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
  const written = new Map(memory.written);
  for (const change of applied.routes) {
    written.set(change.routeTableId, { target: change.to, at: now });
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
  return {
    ...memory,
    recentWrites,
    changedAt,
    written,
    sourceDestChecks,
    recoveries,
    failedWrites,
  };
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
