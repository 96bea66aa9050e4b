/**
 * @module Health verdicts with thresholds (DESIGN.md steps 2–3): turns a stream of probe
 * results into a healthy/unhealthy verdict per instance (`rise` successes or `fall`
 * failures in a row flip it), and tells which healthy instances are still inside their
 * failback hold-down. Pure: the state is a value, time is an argument. With `fall` = 1 and
 * `rise` = 1 every probe is its own verdict.
 */
import { isDraining } from "./drain.ts";
import { compareIds } from "./election.ts";
import type { Candidate, NatInstance, ProbeResult } from "../model.ts";

export interface HealthOptions {
  /** Consecutive failed probes that make an instance unhealthy (at least 1). */
  readonly fall: number;
  /** Consecutive successful probes that make an instance healthy (at least 1). */
  readonly rise: number;
  /** How long an instance healthy again after a failure gains no route tables. */
  readonly failbackDelayMs: number;
}

/** What the tracker knows about one instance. */
export interface InstanceHealth {
  /** The verdict; `undefined` until the first `rise` successes or `fall` failures in a row. */
  readonly healthy: boolean | undefined;
  /** Successful probes in a row (0 after a failure). */
  readonly successes: number;
  /** Failed probes in a row (0 after a success). */
  readonly failures: number;
  /** When the verdict last changed; while there is none, when the instance was first probed. */
  readonly since: number;
  /** Whether it has had an unhealthy verdict since this process started. */
  readonly wasUnhealthy: boolean;
  /** Whether it has had a healthy verdict since this process started. */
  readonly wasHealthy: boolean;
  /** The cause of its most recent failed probe, kept after later successes. */
  readonly lastError: string | undefined;
  readonly lastLatencyMs: number;
}

/** Health per instance id. */
export type HealthState = ReadonlyMap<string, InstanceHealth>;

/** A verdict that changed, to log. */
export interface HealthTransition {
  readonly instanceId: string;
  readonly healthy: boolean;
  readonly previous: boolean | undefined;
  /** The failed probe's cause when it turned unhealthy. */
  readonly error: string | undefined;
}

export interface Observation {
  readonly state: HealthState;
  /** Sorted by instance id. */
  readonly transitions: HealthTransition[];
}

/**
 * Folds probe results (in order) into the state. Instances without a result keep theirs;
 * prune departed ones with `retain`.
 */
export function observe(
  state: HealthState,
  results: readonly ProbeResult[],
  now: number,
  options: HealthOptions,
): Observation {
  const next = new Map(state);
  const transitions: HealthTransition[] = [];
  for (const result of results) {
    const previous = next.get(result.instanceId);
    const health = observeOne(previous, result, now, options);
    next.set(result.instanceId, health);
    if (health.healthy !== undefined && health.healthy !== previous?.healthy) {
      transitions.push({
        instanceId: result.instanceId,
        healthy: health.healthy,
        previous: previous?.healthy,
        error: health.healthy ? undefined : result.error,
      });
    }
  }
  transitions.sort((a, b) => compareIds(a.instanceId, b.instanceId));
  return { state: next, transitions };
}

function observeOne(
  previous: InstanceHealth | undefined,
  result: ProbeResult,
  now: number,
  options: HealthOptions,
): InstanceHealth {
  const before = previous ?? unknownSince(now);
  const successes = result.healthy ? before.successes + 1 : 0;
  const failures = result.healthy ? 0 : before.failures + 1;
  const healthy = successes >= options.rise
    ? true
    : failures >= options.fall
    ? false
    : before.healthy;
  return {
    healthy,
    successes,
    failures,
    since: healthy === before.healthy ? before.since : now,
    wasUnhealthy: before.wasUnhealthy || healthy === false,
    wasHealthy: before.wasHealthy || healthy === true,
    lastError: result.healthy ? before.lastError : result.error,
    lastLatencyMs: result.latencyMs,
  };
}

function unknownSince(now: number): InstanceHealth {
  return {
    healthy: undefined,
    successes: 0,
    failures: 0,
    since: now,
    wasUnhealthy: false,
    wasHealthy: false,
    lastError: undefined,
    lastLatencyMs: 0,
  };
}

/** The state of the given instances only (departed instances are forgotten). */
export function retain(state: HealthState, instanceIds: Iterable<string>): HealthState {
  const kept = new Map<string, InstanceHealth>();
  for (const instanceId of instanceIds) {
    const health = state.get(instanceId);
    if (health !== undefined) kept.set(instanceId, health);
  }
  return kept;
}

/** Whether a healthy instance is still inside its failback hold-down at `now`. */
export function isRecovering(health: InstanceHealth, now: number, options: HealthOptions): boolean {
  return health.healthy === true && health.wasUnhealthy &&
    now - health.since < options.failbackDelayMs;
}

/** The healthy instances that are not draining, for the allocator, sorted by instance id. */
export function candidates(
  state: HealthState,
  instances: readonly NatInstance[],
  now: number,
  options: HealthOptions,
): Candidate[] {
  return [...instances]
    .sort((a, b) => compareIds(a.instanceId, b.instanceId))
    .flatMap((instance) => {
      const { instanceId, zone } = instance;
      const health = state.get(instanceId);
      if (health?.healthy !== true || isDraining(instance, now)) return [];
      return [{ instanceId, zone, recovering: isRecovering(health, now, options) }];
    });
}

/**
 * Whether the instance's verdict is pending or contradicted by its latest probe: the caller
 * probes those again sooner.
 */
export function needsConfirmation(state: HealthState, instanceId: string): boolean {
  const health = state.get(instanceId);
  if (health?.healthy === undefined) return true;
  return health.healthy ? health.failures > 0 : health.successes > 0;
}

/** Whether every one of the instances has a verdict. */
export function allDecided(state: HealthState, instanceIds: Iterable<string>): boolean {
  for (const instanceId of instanceIds) {
    if (state.get(instanceId)?.healthy === undefined) return false;
  }
  return true;
}

/** When the first recovering instance leaves its hold-down, or `undefined` if none is. */
export function nextSettleTime(
  state: HealthState,
  now: number,
  options: HealthOptions,
): number | undefined {
  let earliest: number | undefined;
  for (const health of state.values()) {
    if (!isRecovering(health, now, options)) continue;
    const settles = health.since + options.failbackDelayMs;
    if (earliest === undefined || settles < earliest) earliest = settles;
  }
  return earliest;
}

/**
 * When a probe loop whose check started at `started` checks next: the multiple of `period`
 * (the probe interval, or half of it) nearest to `started + period`. Every loop of the process
 * beats on that one grid, so a single timer wakes the process for all its NATs' checks: on a
 * t4g.nano each wake-up costs CPU credits, whatever work it does (issue 14). A loop that
 * starts off the grid joins it within half a period; a timer a little early or late keeps it.
 */
export function nextBeat(started: number, period: number): number {
  return Math.round(started / period + 1) * period;
}
