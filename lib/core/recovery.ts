/**
 * @module Recovery planning (DESIGN.md step 8, opt-in): which NAT instance to reboot or
 * terminate because it has stayed unhealthy. Recovery must never run away, so it acts only
 * on a clear view: never on the instance the router runs on (and not at all while that is
 * unknown), never on an instance this node has not seen healthy or that launched less than
 * the waiting time ago (EC2 says `running` long before squid answers: with an Auto Scaling
 * group that would be a replacement loop), and at most once per waiting time across the
 * whole cluster — judged from what EC2 shows (a cluster instance launched within the waiting
 * time is a recovery or replacement still settling), so a restart or a change of leader
 * does not reset it. Pure: time is an argument.
 */
import { compareIds } from "./election.ts";
import type { HealthState } from "./health.ts";
import type { NatInstance, RecoveryChange, RecoveryMode } from "../model.ts";

export interface RecoveryInput {
  readonly health: HealthState;
  /** The running instances of the cluster; only these are acted on. */
  readonly instances: readonly Pick<NatInstance, "instanceId" | "launchTime">[];
  /** The instance this process runs on, never acted on; `undefined`: no recovery at all. */
  readonly self: string | undefined;
  readonly mode: RecoveryMode;
  /** How long an instance must stay unhealthy, and the least time between two recoveries. */
  readonly afterMs: number;
  readonly now: number;
  /** When this node last acted on each instance. */
  readonly lastActions: ReadonlyMap<string, number>;
}

/** Why recovery waits this cycle, or `undefined` when it may act. */
export function recoveryHold(input: RecoveryInput): string | undefined {
  const { mode, self, afterMs, now, lastActions } = input;
  if (mode === "off") return "off";
  if (self === undefined) return "own_instance_unknown";
  if ([...lastActions.values()].some((at) => now - at < afterMs)) return "recent_recovery";
  if (input.instances.some((i) => now - i.launchTime < afterMs)) return "recent_launch";
  return undefined;
}

/** At most one reboot or terminate: the lowest instance id due for recovery. */
export function planRecovery(input: RecoveryInput): RecoveryChange[] {
  if (recoveryHold(input) !== undefined) return [];
  const { health, mode, self, afterMs, now } = input;
  const due = input.instances
    .map(({ instanceId }) => instanceId)
    .filter((instanceId) => instanceId !== self)
    .sort(compareIds)
    .flatMap((instanceId) => {
      const state = health.get(instanceId);
      if (state?.healthy !== false || !state.wasHealthy) return [];
      const unhealthyForMs = now - state.since;
      if (unhealthyForMs < afterMs || mode === "off") return [];
      return [{ action: mode, instanceId, unhealthyForMs }];
    });
  return due.slice(0, 1);
}
