/**
 * @module The whole decision of one reconcile, as one pure function: `decide({ view, memory,
 * settings, self, now })` → who leads, whether this node acts, where each route table goes,
 * the plan of changes, what is skipped and why, when to look again (`settleAt`), and whether
 * the view is too old to act on (`rediscover`: read EC2 first). Level-based: it reads only
 * the state of the world and the node's memory, never what woke the reconcile.
 */
import type {
  Allocation,
  Candidate,
  MoveReason,
  NatInstance,
  RecoveryMode,
  RouteTable,
  Skipped,
} from "../model.ts";
import { allocate, holdDown } from "./allocate.ts";
import type { FallbackNatGateway } from "./parse.ts";
import { compareSeniority, electLeader } from "./election.ts";
import { drainingIds, evacuates, evacuation, labelDrainingMoves } from "./drain.ts";
import {
  applyFallback,
  fallbackGatewayIds,
  type GatewayProblem,
  usableFallback,
} from "./fallback.ts";
import { allDecided, candidates, type HealthState, nextSettleTime } from "./health.ts";
import {
  activeFights,
  type Fight,
  findFights,
  type FoundFights,
  type Memory,
  notRecentlyIssued,
  recentlyChanged,
} from "./memory.ts";
import { EMPTY_PLAN, type Plan, planRoutes, planSourceDestChecks } from "./plan.ts";
import { planRecovery } from "./recovery.ts";

/** What the node sees: the cluster as EC2 last described it, and its health verdicts. */
export interface View {
  /** Sorted by instance id. */
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  /** How many times EC2 has been read for this view (1 for the first read). */
  readonly generation: number;
  /**
   * The NAT instances' subnets that have a route table of their own; read only when a tagged
   * table is the VPC's main one (`undefined`: not read, or the read failed).
   */
  readonly explicitSubnets?: ReadonlySet<string> | undefined;
  /**
   * What EC2 last said was wrong with configured fallback gateways (checked every few
   * discoveries); the router never writes a route to one of these.
   */
  readonly gatewayProblems?: readonly GatewayProblem[] | undefined;
}

/** What the decision needs from the configuration. */
export interface DecideSettings {
  readonly ec2Election: boolean;
  readonly fall: number;
  readonly rise: number;
  readonly failbackDelayMs: number;
  readonly probeIntervalMs: number;
  readonly recovery: RecoveryMode;
  readonly recoveryAfterMs: number;
  readonly fallbackNatGateway: FallbackNatGateway | undefined;
  /** How long the node trusts its own writes over a stale read, and repeats no call. */
  readonly writeTrustMs: number;
  /** The first back-off on a suspected split (see `Config.splitBackoffMs`). */
  readonly splitBackoffMs: number;
  /** How long a required change may stay unmade before the next in line makes it. */
  readonly successionMs: number;
}

/** The moves that restore service: the only ones a successor makes for the leader. */
const RESTORING: ReadonlySet<MoveReason> = new Set(["no_route", "blackhole", "nat_unhealthy"]);

/** Probe failures that say something about this node rather than the NAT it probed. */
const LOCAL_PROBE_ERRORS: ReadonlySet<string> = new Set(["not_permitted"]);

export interface DecideInput {
  readonly view: View;
  readonly memory: Memory;
  readonly settings: DecideSettings;
  /** This node's instance id; `undefined` without election (it then always acts). */
  readonly self: string | undefined;
  readonly now: number;
}

/** Not every instance has a health verdict yet: nothing can be decided. */
export interface Undecided {
  readonly decided: false;
  /** The instances still without a verdict, sorted by id. */
  readonly pending: readonly string[];
}

/** Everything a reconcile decides from the view (also what `status` prints). */
export interface Decision {
  readonly decided: true;
  readonly now: number;
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  /** The healthy instances the allocation may use. */
  readonly candidates: readonly Candidate[];
  /** The oldest healthy NAT instance. */
  readonly leader: string | undefined;
  /**
   * Whether this node acts on it: always without election; with it, the leader, and the
   * next in line when the leader leaves a required change unmade (`succeeding`).
   */
  readonly acting: boolean;
  /**
   * This node is not the leader but acts: a change that restores service (no route,
   * blackhole, unhealthy NAT) has stayed unmade for its place in line times
   * `successionMs` — the leader's router is stopped, crash-looping, denied or stuck while
   * its squid answers. The plan then holds only those changes.
   */
  readonly succeeding: boolean;
  /** Since when each change that restores service has been required, by route table id. */
  readonly pending: ReadonlyMap<string, number>;
  /**
   * The node has just become the one acting, on a view read while another node was: that
   * node may have written since, so read EC2 again before acting.
   */
  readonly rediscover: boolean;
  /** No NAT instance is healthy. */
  readonly noHealthyNat: boolean;
  /** No healthy NAT and nothing to route (no fallback): the cycle changes nothing at all. */
  readonly idle: boolean;
  /**
   * This node cannot verify any NAT, for a reason of its own (its probes are not permitted):
   * it writes nothing at all, not even to the fallback gateway.
   */
  readonly viewBroken: boolean;
  /**
   * Route tables another cluster node keeps moving to a NAT this node sees unhealthy: two
   * nodes disagree about health. This node leaves them alone until each back-off ends, and
   * recovers no instance while any lasts.
   */
  readonly splits: readonly Fight[];
  /**
   * NAT instances this node sees unhealthy that another node evidently routes to
   * (`Memory.contested`), sorted: alive for someone, so never rebooted or terminated.
   */
  readonly contested: readonly string[];
  /** What the node learns about fights from this view (new ones among `splits`), to remember. */
  readonly fights: FoundFights;
  readonly allocations: readonly Allocation[];
  /** The changes to make; empty when `idle`. */
  readonly plan: Plan;
  /** Route tables left alone, and why. */
  readonly skipped: readonly Skipped[];
  /** Each configured fallback gateway, and what is wrong with it (`undefined`: usable). */
  readonly gateways: readonly {
    readonly natGatewayId: string;
    readonly problem: GatewayProblem | undefined;
  }[];
  /**
   * When to decide again although nothing changed: a recovering NAT leaves its failback
   * hold-down, a held-back move comes due, or a required change falls to this node.
   */
  readonly settleAt: number | undefined;
}

/** Decides one reconcile from the view and the node's memory. */
export function decide(input: DecideInput): Decision | Undecided {
  const { view, memory, settings, self, now } = input;
  const { instances, routeTables, health } = view;
  const ids = instances.map((i) => i.instanceId);
  if (!allDecided(health, ids)) {
    return { decided: false, pending: ids.filter((id) => !allDecided(health, [id])) };
  }
  const options = settings;
  const offered = candidates(health, instances, now, options);
  const healthyIds = new Set(offered.map((c) => c.instanceId));
  const leader = electLeader(instances.filter((i) => healthyIds.has(i.instanceId)));
  // With no healthy NAT there is no leader; every router then applies the fallback (all
  // decide the same target, so their writes agree).
  const problems = view.gatewayProblems ?? [];
  const usable = usableFallback(
    settings.fallbackNatGateway,
    new Set(problems.map((p) => p.natGatewayId)),
  );
  const leads = !settings.ec2Election || (self !== undefined && leader === self) ||
    (leader === undefined && usable !== undefined);
  // Draining (issue 13): a draining node is no candidate, so never the leader; it still
  // writes its own tables away at once, as the leader will once it reads the mark.
  const evacuating = !leads && evacuates(self, instances, now, settings.ec2Election);
  // Just started (daemon only): no history yet, so only moves that restore service, for
  // one failback delay, like a NAT that has just come back.
  const starting = memory.startedAt !== undefined &&
    now - memory.startedAt < settings.failbackDelayMs;
  const held = starting
    ? new Set(routeTables.map((t) => t.routeTableId))
    : recentlyChanged(memory, now, settings.failbackDelayMs);
  const wanted = allocate(routeTables, offered, { instances });
  const kept = holdDown(wanted, routeTables, held);
  // A move held back now is due when its hold-down ends: decide again then, not a tick later.
  const heldUntil = kept.flatMap((allocation, i) =>
    allocation.instanceId === wanted[i]?.instanceId ? [] : [
      starting
        ? memory.startedAt! + settings.failbackDelayMs
        : (memory.changedAt.get(allocation.routeTableId) ?? now) + settings.failbackDelayMs,
    ]
  );
  const fallback = applyFallback(
    routeTables,
    kept,
    offered.some((c) => !c.recovering),
    usable,
  );
  const allocations = labelDrainingMoves(
    fallback.allocations,
    routeTables,
    drainingIds(instances, now),
  );
  const routes = planRoutes(routeTables, allocations, instances);
  // Only a node that sees itself healthy can judge another node's move: one whose own links
  // are down sees every NAT unhealthy, and the moves made meanwhile are the cure, not a fight.
  // And only when a move can prove anything: a NAT this node saw down all along may have been
  // up unseen for about (rise + 1) probe intervals; were a failback to it possible within that
  // (a failback delay shorter), a table moved to it by a peer would prove no split.
  const provable = settings.failbackDelayMs >= leastProvingFailbackMs(settings);
  const judging = provable &&
    (self === undefined ? offered.length > 0 : healthyIds.has(self));
  const fights = judging
    ? findFights(memory, view, now, settings.splitBackoffMs, self)
    : { noticed: [], released: [], healed: [] };
  // A back-off lasts while this node still sees the other node's target unhealthy: once it
  // sees it healthy again, the disagreement (and the split) is over.
  const stillSplit = (fight: Fight) => health.get(fight.movedTo)?.healthy === false;
  const splits = [...activeFights(memory, now).filter(stillSplit), ...fights.noticed]
    .filter((fight, i, all) => all.findIndex((f) => f.routeTableId === fight.routeTableId) === i);
  const backingOff = new Set(splits.map((fight) => fight.routeTableId));
  // A write that failed on this very view is not retried before EC2 is read again.
  const failedHere = (id: string) => memory.failedWrites.get(id) === view.generation;
  const untouchable = new Map(protectedTables(view).map((s) => [s.resourceId, s]));
  const proposed = [...routes.changes, ...fallback.gatewayChanges]
    .filter((change) => !untouchable.has(change.routeTableId));
  const routeChanges = proposed.filter((change) =>
    !failedHere(change.routeTableId) && !backingOff.has(change.routeTableId)
  );
  const skipped = [
    ...routes.skipped,
    ...untouchable.values(),
    ...proposed.filter((c) => backingOff.has(c.routeTableId)).map((c) => ({
      resourceId: c.routeTableId,
      reason: "split_suspected",
    })),
  ];
  const contested = ids.filter((id) => memory.contested.has(id));
  const noHealthyNat = offered.length === 0;
  const viewBroken = noHealthyNat && instances.length > 0 &&
    instances.every((i) => LOCAL_PROBE_ERRORS.has(health.get(i.instanceId)?.lastError ?? ""));
  const idle = viewBroken || (noHealthyNat && routeChanges.length === 0);
  const full: Plan = idle ? EMPTY_PLAN : {
    routes: routeChanges,
    sourceDestChecks: notRecentlyIssued(
      memory,
      planSourceDestChecks(instances),
      now,
      settings.writeTrustMs,
    ),
    recoveries: splits.length > 0 ? [] : planRecovery({
      health,
      // A NAT another node evidently routes to is alive for someone: a dispute, not a death.
      instances: instances.filter((i) => !contested.includes(i.instanceId)),
      self,
      mode: settings.recovery,
      afterMs: settings.recoveryAfterMs,
      now,
      lastActions: memory.recoveries,
    }),
  };
  // Succession: the changes that restore service, and since when each has been required.
  const required = full.routes.filter((change) => RESTORING.has(change.reason));
  const pending = new Map(
    required.map((c) => [c.routeTableId, memory.pending.get(c.routeTableId) ?? now]),
  );
  const rank = leads ? 0 : successionRank(instances, healthyIds, self);
  const dueAt = (id: string) => pending.get(id)! + rank * settings.successionMs;
  const overdue = rank > 0 ? required.filter((c) => dueAt(c.routeTableId) <= now) : [];
  const succeeding = !leads && overdue.length > 0;
  const acting = leads || succeeding || evacuating;
  const plan: Plan = succeeding
    ? { routes: overdue, sourceDestChecks: [], recoveries: [] }
    : evacuating
    ? { routes: evacuation(full.routes, self!), sourceDestChecks: [], recoveries: [] }
    : full;
  const rediscover = acting && settings.ec2Election && memory.followedOn !== undefined &&
    view.generation <= memory.followedOn;
  const successionAt = rank > 0 && !succeeding
    ? Math.min(...required.map((c) => dueAt(c.routeTableId)))
    : Infinity;
  const settleAt = Math.min(
    nextSettleTime(health, now, options) ?? Infinity,
    successionAt,
    ...(acting ? heldUntil : []),
  );
  return {
    decided: true,
    now,
    instances,
    routeTables,
    health,
    candidates: offered,
    leader,
    acting,
    succeeding,
    pending,
    rediscover,
    noHealthyNat,
    idle,
    viewBroken,
    splits,
    contested,
    fights,
    allocations,
    plan,
    skipped,
    gateways: settings.fallbackNatGateway === undefined
      ? []
      : fallbackGatewayIds(settings.fallbackNatGateway).map((natGatewayId) => ({
        natGatewayId,
        problem: problems.find((p) => p.natGatewayId === natGatewayId),
      })),
    settleAt: Number.isFinite(settleAt) ? settleAt : undefined,
  };
}

/**
 * Route tables the router must never write, whatever their tags say:
 * - one that serves the subnet of a NAT instance of the cluster (explicitly associated, or
 *   the VPC's main table while that subnet has no table of its own, or could not be checked):
 *   pointing it at a NAT loops the NAT's own egress — and the router's path to the EC2 API —
 *   into a NAT;
 * - one whose default route goes to an internet gateway: a public subnet tagged by mistake.
 * Other targets in a tagged table are taken over as usual (the tag says it is managed).
 */
export function protectedTables(view: View): Skipped[] {
  const natSubnets = new Set(view.instances.flatMap((i) => i.subnetId ? [i.subnetId] : []));
  const followMain = [...natSubnets].some((id) => view.explicitSubnets?.has(id) !== true);
  return view.routeTables.flatMap((table) => {
    const servesNat = (table.subnetIds ?? []).some((id) => natSubnets.has(id));
    if (servesNat || (table.main === true && followMain)) {
      const reason = servesNat || view.explicitSubnets !== undefined
        ? "serves_nat_subnet"
        : "main_table_unverified";
      return [{ resourceId: table.routeTableId, reason }];
    }
    if (table.defaultRoute?.gatewayId?.startsWith("igw-")) {
      return [{ resourceId: table.routeTableId, reason: "internet_gateway_route" }];
    }
    return [];
  });
}

/**
 * This node's place in the line of succession: 1 for the second-oldest healthy NAT (the
 * leader is 0), 2 for the next, ...; 0 when it is not a healthy NAT of the cluster.
 */
function successionRank(
  instances: readonly NatInstance[],
  healthy: ReadonlySet<string>,
  self: string | undefined,
): number {
  const line = instances.filter((i) => healthy.has(i.instanceId)).sort(compareSeniority);
  return Math.max(0, line.findIndex((i) => i.instanceId === self));
}

/**
 * The shortest failback delay with which a table moved to a NAT this node saw down proves a
 * split: a NAT may have been up unseen for about (rise + 1) probe intervals.
 */
export function leastProvingFailbackMs(
  settings: Pick<DecideSettings, "rise" | "probeIntervalMs">,
): number {
  return (settings.rise + 1) * settings.probeIntervalMs;
}
