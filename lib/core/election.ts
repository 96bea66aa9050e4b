/**
 * @module Leader election (DESIGN.md step 4) and the id order every decision breaks ties
 * with. The leader is the oldest healthy instance by launch time, ties broken by instance
 * id, so every node that sees the same healthy fleet names the same leader.
 */

/** An instance as the election sees it. */
export interface Electable {
  readonly instanceId: string;
  /** Milliseconds since the epoch. */
  readonly launchTime: number;
}

/**
 * Orders ids by UTF-16 code units, never by locale, so that every node (whatever its
 * locale) breaks ties the same way.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Oldest first; ties by instance id. */
export function compareSeniority(a: Electable, b: Electable): number {
  return a.launchTime - b.launchTime || compareIds(a.instanceId, b.instanceId);
}

/** The id of the oldest healthy instance (ties by id), or `undefined` when none is healthy. */
export function electLeader(healthy: readonly Electable[]): string | undefined {
  let leader: Electable | undefined;
  for (const instance of healthy) {
    if (leader === undefined || compareSeniority(instance, leader) < 0) leader = instance;
  }
  return leader?.instanceId;
}
