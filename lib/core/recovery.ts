/**
 * @module Recovery planning (DESIGN.md step 8, opt-in): which NAT instances to reboot or
 * terminate because they have stayed unhealthy. Never the instance the router runs on,
 * at most once per instance per waiting period. Pure: time is an argument.
 */
import { compareIds } from "./election.ts";
import type { HealthState } from "./health.ts";
import type { NatInstance, RecoveryChange, RecoveryMode } from "../model.ts";

export interface RecoveryInput {
  readonly health: HealthState;
  /** The running instances of the cluster; only these are acted on. */
  readonly instances: readonly Pick<NatInstance, "instanceId">[];
  /** The instance this process runs on, never acted on. */
  readonly self: string | undefined;
  readonly mode: RecoveryMode;
  /** How long an instance must stay unhealthy, and the least time between two actions on it. */
  readonly afterMs: number;
  readonly now: number;
  /** When each instance was last acted on. */
  readonly lastActions: ReadonlyMap<string, number>;
}

/** One reboot or terminate per instance due for recovery, sorted by instance id. */
export function planRecovery(input: RecoveryInput): RecoveryChange[] {
  const { health, mode, self, afterMs, now, lastActions } = input;
  if (mode === "off") return [];
  return input.instances
    .map(({ instanceId }) => instanceId)
    .filter((instanceId) => instanceId !== self)
    .sort(compareIds)
    .flatMap((instanceId) => {
      const state = health.get(instanceId);
      if (state?.healthy !== false) return [];
      const unhealthyForMs = now - state.since;
      const lastAction = lastActions.get(instanceId);
      const actedRecently = lastAction !== undefined && now - lastAction < afterMs;
      if (unhealthyForMs < afterMs || actedRecently) return [];
      return [{ action: mode, instanceId, unhealthyForMs }];
    });
}
