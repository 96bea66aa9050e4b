/**
 * @module Planned departures, pure: the draining mark (`aws-nat-router/draining` = the ISO
 * time the drain started) and when it counts, the evacuation a draining node makes itself, the
 * metadata notices that start a drain (spot interruption, Auto Scaling termination), and when
 * a node that came back clears its own mark. A mark counts for `DRAIN_MARK_TTL_MS` after its
 * time and never before it (beyond clock skew), so an expired or orphaned mark, or a
 * malformed one, never blocks anything.
 */
import type { Allocation, NatInstance, RouteChange, RouteTable } from "../model.ts";

/** How long a draining mark counts: long past any planned departure (spot gives 2 minutes). */
export const DRAIN_MARK_TTL_MS = 60 * 60_000;
/** A mark dated this far in the future still counts (clocks of two nodes disagree a little). */
const CLOCK_SKEW_MS = 5 * 60_000;
/** How often a daemon reads the spot and Auto Scaling notices from the metadata service. */
export const NOTICE_POLL_MS = 1_000;
/**
 * How long a node that is in no Auto Scaling group waits before it asks again whether it is
 * in one now (an instance attached to a group later, `AttachInstances`).
 */
export const GROUP_RECHECK_MS = 60_000;
/**
 * How often the watch looks at its own mark when no notice can come (an on-demand instance
 * in no Auto Scaling group): a mark from before a reboot is cleared this much later at most.
 */
export const IDLE_WATCH_MS = 5_000;
/** How long `drain` waits for EC2 to show no route table on the node any more. */
export const DRAIN_TIMEOUT_MS = 30_000;

/** The mark's time from the tag's text: an ISO 8601 time, else `undefined` (ignored). */
export function parseDrainingTag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The tag's text for a drain started at `now`: ISO 8601, whole seconds. */
export function drainingTagValue(now: number): string {
  return new Date(Math.floor(now / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** Whether a mark set at `since` counts at `now`. */
export function markCounts(since: number | undefined, now: number): boolean {
  return since !== undefined && now - since < DRAIN_MARK_TTL_MS && since - now < CLOCK_SKEW_MS;
}

/** Whether the instance is draining at `now`: it has a mark that counts. */
export function isDraining(
  instance: { readonly drainingSince?: number | undefined },
  now: number,
): boolean {
  return markCounts(instance.drainingSince, now);
}

/** The ids of the draining instances, sorted as given. */
export function drainingIds(instances: readonly NatInstance[], now: number): Set<string> {
  return new Set(instances.filter((i) => isDraining(i, now)).map((i) => i.instanceId));
}

/**
 * Names the moves off a draining NAT as such: the allocator sees a NAT that is not a
 * candidate (`nat_unhealthy`); the log and the metrics say `nat_draining`.
 */
export function labelDrainingMoves(
  allocations: readonly Allocation[],
  routeTables: readonly RouteTable[],
  draining: ReadonlySet<string>,
): Allocation[] {
  if (draining.size === 0) return [...allocations];
  const current = new Map(routeTables.map((t) => [t.routeTableId, t.defaultRoute?.instanceId]));
  return allocations.map((a) => {
    const from = current.get(a.routeTableId);
    return a.reason === "nat_unhealthy" && from !== undefined && draining.has(from)
      ? { ...a, reason: "nat_draining" }
      : a;
  });
}

/**
 * Whether this node, not the one acting, writes its own route tables away: it is draining,
 * and the election runs (without it every node acts anyway). Safe because the allocation is
 * deterministic — the leader, once it reads the mark, decides the same targets for these
 * tables and keeps them there (moves are sticky) — and because the node only writes tables
 * that point at itself: after its write none does, so it cannot fight anyone over a table.
 */
export function evacuates(
  self: string | undefined,
  instances: readonly NatInstance[],
  now: number,
  ec2Election: boolean,
): boolean {
  if (!ec2Election || self === undefined) return false;
  const own = instances.find((i) => i.instanceId === self);
  return own !== undefined && isDraining(own, now);
}

/** The evacuation: only the moves of route tables that point at `self` now. */
export function evacuation(routes: readonly RouteChange[], self: string): RouteChange[] {
  return routes.filter((change) => change.from === self);
}

/** Why a node starts draining on its own. Stable log values. */
export type DrainReason = "operator" | "spot_interruption" | "asg_termination" | "shutdown";

/**
 * What the metadata notices say: a spot interruption (`spot/instance-action`, a JSON document
 * with an `action`, present only once one is scheduled) or an Auto Scaling termination
 * (`autoscaling/target-lifecycle-state` = `Terminated`). `undefined`: nothing planned.
 */
export function noticeReason(
  spotInstanceAction: string | undefined,
  lifecycleState: string | undefined,
): DrainReason | undefined {
  if (spotInstanceAction !== undefined && spotAction(spotInstanceAction) !== undefined) {
    return "spot_interruption";
  }
  if (lifecycleState?.trim() === "Terminated") return "asg_termination";
  return undefined;
}

/** What the drain watch knows of its own instance, to ask only for notices it can get. */
export interface NoticeState {
  /** `instance-life-cycle` (`spot`, `on-demand`, ...); `undefined` while unknown. */
  readonly lifeCycle: string | undefined;
  /**
   * When `target-lifecycle-state` last answered 404 (the instance is in no Auto Scaling
   * group); `undefined` when it answered, or was not asked yet.
   */
  readonly outsideGroupAt: number | undefined;
}

/**
 * Which notices to read at `now`. Each read costs a wake-up and two HTTP exchanges a second,
 * a fifth of the daemon's CPU on a t4g.nano (issue 14), so only what can come is asked: a
 * spot interruption only on a spot instance (or while that is unknown); an Auto Scaling
 * state every poll in a group, and once every `GROUP_RECHECK_MS` outside one.
 */
export function noticesToAsk(
  state: NoticeState,
  now: number,
): { spot: boolean; autoScaling: boolean } {
  return {
    spot: maybeSpot(state),
    autoScaling: state.outsideGroupAt === undefined ||
      now - state.outsideGroupAt >= GROUP_RECHECK_MS,
  };
}

/** How long the watch sleeps: `NOTICE_POLL_MS` where a notice can come, else `IDLE_WATCH_MS`. */
export function watchPollMs(state: NoticeState): number {
  return maybeSpot(state) || state.outsideGroupAt === undefined ? NOTICE_POLL_MS : IDLE_WATCH_MS;
}

/** A spot instance, or one whose purchasing option is not known yet (the safe side). */
function maybeSpot(state: NoticeState): boolean {
  return state.lifeCycle === undefined || state.lifeCycle === "spot";
}

/** The `action` of a spot instance-action document (`terminate`, `stop`, `hibernate`). */
export function spotAction(document: string): string | undefined {
  try {
    const parsed = JSON.parse(document) as { action?: unknown };
    return typeof parsed?.action === "string" && parsed.action !== "" ? parsed.action : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a node that has come back clears its own mark: the mark counts, was set before the
 * instance last booted (a drain for a shutdown or reboot; a mark set since, by an operator,
 * stays until `undrain`), and the node is healthy again (its own verdict after `--rise`,
 * which with `--self-check` is served only while the self-check passes).
 */
export function clearsOwnMark(input: {
  readonly drainingSince: number | undefined;
  readonly bootedAt: number;
  readonly healthy: boolean;
  readonly now: number;
}): boolean {
  return input.healthy && markCounts(input.drainingSince, input.now) &&
    input.drainingSince !== undefined && input.drainingSince < input.bootedAt;
}

/** The route tables whose default route points at `instanceId` (drain is done when none). */
export function tablesOn(routeTables: readonly RouteTable[], instanceId: string): string[] {
  return routeTables.filter((t) => t.defaultRoute?.instanceId === instanceId)
    .map((t) => t.routeTableId);
}
