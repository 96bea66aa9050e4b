/**
 * @module The heartbeat loop: every `periodMs`, one `router.heartbeat` line at info with
 * what `summary()` returns (leader, healthy NATs, tables on target, last successful cycle),
 * so that a quiet journal still shows a live router. Runs until its signal aborts.
 */
import type { Clock } from "../adapters/clock.ts";
import type { Logger } from "../adapters/log.ts";
import { heartbeatFields, type HeartbeatSummary } from "../core/heartbeat.ts";

export interface HeartbeatDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** Time between two lines; the first comes one period after the start. */
  readonly periodMs: number;
  /** What to report now: plain data. */
  readonly summary: () => HeartbeatSummary;
}

/** Logs a heartbeat every period until `signal` aborts; resolves then. */
export async function runHeartbeat(deps: HeartbeatDeps, signal: AbortSignal): Promise<void> {
  const { clock, log, periodMs } = deps;
  let next = clock.now() + periodMs;
  while (!signal.aborted) {
    await clock.sleep(next - clock.now(), signal);
    if (signal.aborted) break;
    const now = clock.now();
    log.info("router.heartbeat", heartbeatFields(deps.summary(), now));
    // Keep the cadence; after a stall (a suspended host), count again from now.
    next += periodMs;
    if (next <= now) next = now + periodMs;
  }
}

/** Remembers when the last cycle succeeded, from the controller's `cycle` hook. */
export function lastOkCycle(): {
  readonly cycle: (info: { readonly ok: boolean; readonly at: number }) => void;
  readonly at: () => number | undefined;
} {
  let at: number | undefined;
  return {
    cycle: (info) => {
      if (info.ok) at = info.at;
    },
    at: () => at,
  };
}
