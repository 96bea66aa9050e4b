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
  NatInstance,
  RecoveryMode,
  RouteTable,
  Skipped,
} from "../model.ts";
import { allocate, holdDown } from "./allocate.ts";
import type { FallbackNatGateway } from "./parse.ts";
import { electLeader } from "./election.ts";
import { applyFallback } from "./fallback.ts";
import { drainingIds, evacuates, evacuation, labelDrainingMoves } from "./drain.ts";
import { allDecided, candidates, type HealthState, nextSettleTime } from "./health.ts";
import { type Memory, notRecentlyIssued, recentlyChanged } from "./memory.ts";
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
}

/** What the decision needs from the configuration. */
export interface DecideSettings {
  readonly ec2Election: boolean;
  readonly fall: number;
  readonly rise: number;
  readonly failbackDelayMs: number;
  readonly recovery: RecoveryMode;
  readonly recoveryAfterMs: number;
  readonly fallbackNatGateway: FallbackNatGateway | undefined;
  /** How long the node trusts its own writes over a stale read, and repeats no call. */
  readonly writeTrustMs: number;
}

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
  /** Whether this node acts on it (always without election; only the leader with it). */
  readonly acting: boolean;
  /**
   * The node has just become the one acting, on a view read while another node was: that
   * node may have written since, so read EC2 again before acting.
   */
  readonly rediscover: boolean;
  /** No NAT instance is healthy. */
  readonly noHealthyNat: boolean;
  /** No healthy NAT and nothing to route (no fallback): the cycle changes nothing at all. */
  readonly idle: boolean;
  readonly allocations: readonly Allocation[];
  /** The changes to make; empty when `idle`. */
  readonly plan: Plan;
  /** Route tables left alone, and why. */
  readonly skipped: readonly Skipped[];
  /** When a recovering NAT instance leaves its failback hold-down: decide again then. */
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
  const leading = !settings.ec2Election || (self !== undefined && leader === self) ||
    (leader === undefined && settings.fallbackNatGateway !== undefined);
  // Draining (issue 13): a draining node is no candidate, so never the leader; it still
  // writes its own tables away at once, as the leader will once it reads the mark.
  const evacuating = !leading && evacuates(self, instances, now, settings.ec2Election);
  const acting = leading || evacuating;
  const rediscover = acting && settings.ec2Election && memory.followedOn !== undefined &&
    view.generation <= memory.followedOn;
  // Just started (daemon only): no history yet, so only moves that restore service, for
  // one failback delay, like a NAT that has just come back.
  const starting = memory.startedAt !== undefined &&
    now - memory.startedAt < settings.failbackDelayMs;
  const held = starting
    ? new Set(routeTables.map((t) => t.routeTableId))
    : recentlyChanged(memory, now, settings.failbackDelayMs);
  const fallback = applyFallback(
    routeTables,
    holdDown(allocate(routeTables, offered, { instances }), routeTables, held),
    offered.some((c) => !c.recovering),
    settings.fallbackNatGateway,
  );
  const allocations = labelDrainingMoves(
    fallback.allocations,
    routeTables,
    drainingIds(instances, now),
  );
  const routes = planRoutes(routeTables, allocations, instances);
  const allChanges = [...routes.changes, ...fallback.gatewayChanges];
  const routeChanges = evacuating ? evacuation(allChanges, self!) : allChanges;
  const noHealthyNat = offered.length === 0;
  const idle = noHealthyNat && routeChanges.length === 0;
  const plan: Plan = idle ? EMPTY_PLAN : evacuating ? { ...EMPTY_PLAN, routes: routeChanges } : {
    routes: routeChanges,
    sourceDestChecks: notRecentlyIssued(
      memory,
      planSourceDestChecks(instances),
      now,
      settings.writeTrustMs,
    ),
    recoveries: planRecovery({
      health,
      instances,
      self,
      mode: settings.recovery,
      afterMs: settings.recoveryAfterMs,
      now,
      lastActions: memory.recoveries,
    }),
  };
  return {
    decided: true,
    now,
    instances,
    routeTables,
    health,
    candidates: offered,
    leader,
    acting,
    rediscover,
    noHealthyNat,
    idle,
    allocations,
    plan,
    skipped: routes.skipped,
    settleAt: nextSettleTime(health, now, options),
  };
}
