/**
 * @module Route table allocation (DESIGN.md step 6): which healthy NAT instance each tagged
 * route table's default route should point at, and why a table moves. Pure and
 * deterministic: tables are processed in route table id order and every tie is broken by
 * instance id.
 *
 * The rules, in order:
 * - A table whose zone has a candidate that may gain tables (a "served" zone) goes to a
 *   candidate of that zone; the zone's candidates share its tables within one of each other.
 * - Every other table (no zone, or a zone without such a candidate) is an orphan and goes to
 *   the candidates with the fewest tables overall, counting the zone tables placed before:
 *   a water-fill, so that the instances receiving orphans end within one of each other and
 *   no instance above that level receives any.
 * - Sticky: a table stays on the candidate carrying it while that candidate is within its
 *   share; which instances get the one-table remainder is chosen to minimise moves (the
 *   instances that would otherwise give away the most tables first, ties by id). Tables
 *   that must be (re)placed go to the instance with the fewest tables, ties by id.
 * - Failback hold-down: while any candidate is settled, a `recovering` candidate may keep
 *   tables it carries (within its share, in both its zone and the orphan pool) but gains
 *   none; when no candidate is settled, every candidate counts as settled.
 * - No candidate at all: no allocation (the caller leaves the routes as they are).
 */
import { compareIds } from "./election.ts";
import type {
  Allocation,
  Candidate,
  DefaultRoute,
  MoveReason,
  NatInstance,
  RouteTable,
} from "../model.ts";

export interface AllocateOptions {
  /**
   * The discovered instances, so that a default route naming only a network interface
   * counts as pointing at the instance owning that interface.
   */
  readonly instances?: readonly NatInstance[];
}

/** The candidates as the allocator sees them. */
interface Fleet {
  readonly byId: ReadonlyMap<string, Candidate>;
  /** Every candidate, sorted by instance id. */
  readonly sorted: readonly Candidate[];
  /** Candidates per zone, each list sorted by instance id. */
  readonly byZone: ReadonlyMap<string, readonly Candidate[]>;
  /** Candidates that may gain tables: the settled ones, or all when none is settled. */
  readonly gaining: ReadonlySet<string>;
  /** Zones with a candidate that may gain tables: their tables stay in the zone. */
  readonly servedZones: ReadonlySet<string>;
}

/** A route table with what its default route points at now. */
interface Current {
  readonly table: RouteTable;
  /** The instance the default route names, directly or through its interface, in any state. */
  readonly instanceId: string | undefined;
  /** The candidate carrying the table's traffic now (not through a blackholed route). */
  readonly holder: string | undefined;
}

/** One instance's part in sharing out a group of tables. */
interface Share {
  readonly instanceId: string;
  /** Tables it already has from groups placed before. */
  readonly base: number;
  /** Tables of this group it carries now. */
  readonly held: number;
  /** The most tables of this group it may end with: unlimited unless it may not gain. */
  readonly cap: number;
}

/**
 * Allocates every route table to a candidate (a healthy instance), with the reason it moves
 * (`undefined` when it stays). Sorted by route table id; empty when there is no candidate.
 */
export function allocate(
  routeTables: readonly RouteTable[],
  candidates: readonly Candidate[],
  options: AllocateOptions = {},
): Allocation[] {
  if (candidates.length === 0) return [];
  const fleet = describeFleet(candidates);
  const owners = interfaceOwners(options.instances ?? []);
  const tables = [...routeTables]
    .sort((a, b) => compareIds(a.routeTableId, b.routeTableId))
    .map((table) => readCurrent(table, owners, fleet));
  const placement = place(tables, fleet);
  return tables.flatMap((current) => {
    const instanceId = placement.get(current.table.routeTableId);
    if (instanceId === undefined) return [];
    const reason = moveReason(current, instanceId, fleet);
    return [{ routeTableId: current.table.routeTableId, instanceId, reason }];
  });
}

/** Maps every network interface id of the instances to its instance id. */
export function interfaceOwners(instances: readonly NatInstance[]): ReadonlyMap<string, string> {
  return new Map(
    instances.flatMap((instance) =>
      instance.networkInterfaces.map((eni) =>
        [eni.networkInterfaceId, instance.instanceId] as const
      )
    ),
  );
}

/** The instance a default route points at, directly or through one of its interfaces. */
export function routeInstanceId(
  route: DefaultRoute,
  owners: ReadonlyMap<string, string>,
): string | undefined {
  if (route.instanceId !== undefined) return route.instanceId;
  return route.networkInterfaceId === undefined ? undefined : owners.get(route.networkInterfaceId);
}

function describeFleet(candidates: readonly Candidate[]): Fleet {
  const sorted = [...candidates].sort((a, b) => compareIds(a.instanceId, b.instanceId));
  const settled = sorted.filter((candidate) => !candidate.recovering);
  const gainers = settled.length > 0 ? settled : sorted;
  return {
    byId: new Map(sorted.map((candidate) => [candidate.instanceId, candidate])),
    sorted,
    byZone: Map.groupBy(sorted, (candidate) => candidate.zone),
    gaining: new Set(gainers.map((candidate) => candidate.instanceId)),
    servedZones: new Set(gainers.map((candidate) => candidate.zone)),
  };
}

function readCurrent(
  table: RouteTable,
  owners: ReadonlyMap<string, string>,
  fleet: Fleet,
): Current {
  const route = table.defaultRoute;
  const instanceId = route === undefined ? undefined : routeInstanceId(route, owners);
  const live = route !== undefined && route.state !== "blackhole";
  const holder = live && instanceId !== undefined && fleet.byId.has(instanceId)
    ? instanceId
    : undefined;
  return { table, instanceId, holder };
}

/** Places the zone tables first, then the orphans on top of them; table id → instance id. */
function place(tables: readonly Current[], fleet: Fleet): ReadonlyMap<string, string> {
  const groups = Map.groupBy(tables, (current) => servedZone(current.table, fleet));
  const load = new Map<string, number>();
  const placement = new Map<string, string>();
  // Zones share no candidate, so the order zones are placed in cannot change the outcome.
  for (const [zone, group] of groups) {
    if (zone !== undefined) placeGroup(group, fleet.byZone.get(zone) ?? [], fleet, load, placement);
  }
  placeGroup(groups.get(undefined) ?? [], fleet.sorted, fleet, load, placement);
  return placement;
}

/** The table's zone when a candidate there may gain tables; `undefined` for an orphan. */
function servedZone(table: RouteTable, fleet: Fleet): string | undefined {
  return table.zone !== undefined && fleet.servedZones.has(table.zone) ? table.zone : undefined;
}

/**
 * Shares one group of tables (sorted by id) among its members: tables stay with their
 * holder while it is within its quota, the rest fill the least-loaded members first.
 * Adds the group to `load` and writes the outcome to `placement`.
 */
function placeGroup(
  tables: readonly Current[],
  members: readonly Candidate[],
  fleet: Fleet,
  load: Map<string, number>,
  placement: Map<string, string>,
): void {
  const held = countHolders(tables);
  const shares = members.map(({ instanceId }): Share => {
    const carried = held.get(instanceId) ?? 0;
    const cap = fleet.gaining.has(instanceId) ? Infinity : carried;
    return { instanceId, base: load.get(instanceId) ?? 0, held: carried, cap };
  });
  const quotas = shareOut(shares, tables.length);
  const { movers, spare } = keepWithinQuota(tables, quotas, placement);
  const slots = openSlots(shares, quotas, spare);
  movers.forEach((current, index) => {
    const instanceId = slots[index];
    if (instanceId !== undefined) placement.set(current.table.routeTableId, instanceId);
  });
  for (const share of shares) {
    load.set(share.instanceId, share.base + (quotas.get(share.instanceId) ?? 0));
  }
}

/**
 * Leaves each table with its holder while the holder has quota left (in table id order);
 * returns the tables still to place and the quota left per member.
 */
function keepWithinQuota(
  tables: readonly Current[],
  quotas: ReadonlyMap<string, number>,
  placement: Map<string, string>,
): { movers: Current[]; spare: Map<string, number> } {
  const spare = new Map(quotas);
  const movers: Current[] = [];
  for (const current of tables) {
    const holder = current.holder;
    const left = holder === undefined ? 0 : spare.get(holder) ?? 0;
    if (holder === undefined || left === 0) {
      movers.push(current);
    } else {
      placement.set(current.table.routeTableId, holder);
      spare.set(holder, left - 1);
    }
  }
  return { movers, spare };
}

function countHolders(tables: readonly Current[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { holder } of tables) {
    if (holder !== undefined) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  }
  return counts;
}

/**
 * Water-fill: each member's quota of `total` tables raises its load to a common level,
 * within its cap; the remainder (one table each) goes to the members that would otherwise
 * give away the most tables they carry, ties by id.
 */
function shareOut(shares: readonly Share[], total: number): Map<string, number> {
  const level = fillLevel(shares, total);
  const quotas = new Map(shares.map((share) => [share.instanceId, fillTo(share, level)]));
  const remainder = total - shares.reduce((sum, share) => sum + fillTo(share, level), 0);
  const excess = (share: Share) => share.held - fillTo(share, level);
  const raisable = shares
    .filter((share) => fillTo(share, level + 1) > fillTo(share, level))
    .sort((a, b) => excess(b) - excess(a) || compareIds(a.instanceId, b.instanceId));
  for (const share of raisable.slice(0, remainder)) {
    quotas.set(share.instanceId, fillTo(share, level) + 1);
  }
  return quotas;
}

/** The tables of the group a member gets when loads are raised to `level`. */
function fillTo(share: Share, level: number): number {
  return Math.min(Math.max(level - share.base, 0), share.cap);
}

/** The highest level that raising every member to costs at most `total` tables. */
function fillLevel(shares: readonly Share[], total: number): number {
  const cost = (level: number) => shares.reduce((sum, share) => sum + fillTo(share, level), 0);
  let low = 0;
  let high = shares.reduce((top, share) => Math.max(top, share.base), 0) + total + 1;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (cost(middle) <= total) low = middle;
    else high = middle;
  }
  return low;
}

/**
 * The free places left by `spare`, one per table to place, ordered as "the member with the
 * fewest tables, ties by id" would fill them one at a time.
 */
function openSlots(
  shares: readonly Share[],
  quotas: ReadonlyMap<string, number>,
  spare: ReadonlyMap<string, number>,
): string[] {
  const slots: { instanceId: string; level: number }[] = [];
  for (const { instanceId, base } of shares) {
    const left = spare.get(instanceId) ?? 0;
    const kept = (quotas.get(instanceId) ?? 0) - left;
    for (let slot = 0; slot < left; slot++) slots.push({ instanceId, level: base + kept + slot });
  }
  return slots
    .sort((a, b) => a.level - b.level || compareIds(a.instanceId, b.instanceId))
    .map((slot) => slot.instanceId);
}

function moveReason(current: Current, target: string, fleet: Fleet): MoveReason | undefined {
  const { table, instanceId } = current;
  if (table.defaultRoute === undefined) return "no_route";
  if (table.defaultRoute.state === "blackhole") return "blackhole";
  if (instanceId === undefined) return "foreign_target";
  if (instanceId === target) return undefined;
  const holder = fleet.byId.get(instanceId);
  if (holder === undefined) return "nat_unhealthy";
  const zone = servedZone(table, fleet);
  return zone !== undefined && holder.zone !== zone ? "zone_preference" : "rebalance";
}

/**
 * Hold-down against ping-pong (two routers that disagree, a NAT that keeps coming back):
 * a table in `held` (its route changed within the failback delay) is not moved again for
 * `zone_preference` or `rebalance`. Moves that restore service (no route, blackhole,
 * unhealthy or foreign target) are never held.
 */
export function holdDown(
  allocations: readonly Allocation[],
  routeTables: readonly RouteTable[],
  held: ReadonlySet<string>,
): Allocation[] {
  if (held.size === 0) return [...allocations];
  const byId = new Map(routeTables.map((table) => [table.routeTableId, table]));
  return allocations.map((allocation) => {
    const current = byId.get(allocation.routeTableId)?.defaultRoute?.instanceId;
    const optional = allocation.reason === "zone_preference" || allocation.reason === "rebalance";
    return optional && current !== undefined && held.has(allocation.routeTableId)
      ? { routeTableId: allocation.routeTableId, instanceId: current, reason: undefined }
      : allocation;
  });
}
