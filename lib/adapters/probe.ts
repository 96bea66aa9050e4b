/**
 * @module TCP health probe: the only caller of `Deno.connect`. A probe is a check of
 * `address:port`: one connect bounded by a timeout, or several staggered ones (healthy if any
 * succeeds); connections are closed at once. Failures are values (`{ healthy: false, error }`),
 * never exceptions.
 */
import type { ProbeResult } from "../model.ts";

export interface ProbeTarget {
  readonly instanceId: string;
  /** The address to connect to; `undefined` when the instance has none (never localhost). */
  readonly address: string | undefined;
}

export type Probe = (target: ProbeTarget) => Promise<ProbeResult>;

/** Maps a connect failure to a short, stable cause for logs and metrics. */
function causeOf(error: unknown, timedOut: boolean): string {
  if (timedOut) return "timeout";
  if (error instanceof Deno.errors.ConnectionRefused) return "refused";
  if (error instanceof Deno.errors.NotCapable) return "not_permitted";
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  return error instanceof Error ? error.name : "error";
}

/** Why a check cancels its other connects: one shared reason (no exception built per check). */
const CHECK_OVER = new Error("check over");

/** One TCP connect within `timeoutMs`, closed at once. */
async function connectOnce(
  hostname: string,
  port: number,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<{ ok: true } | { ok: false; error: string }> {
  if (cancel.aborted) return { ok: false, error: "cancelled" };
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const onCancel = () => abort.abort(CHECK_OVER);
  cancel.addEventListener("abort", onCancel);
  try {
    const conn = await Deno.connect({ hostname, port, signal: abort.signal });
    conn.close();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: causeOf(error, timedOut) };
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener("abort", onCancel);
  }
}

/**
 * A probe that connects to `port` with `timeoutMs`; `now` measures latency.
 *
 * With `attempts` > 1 (the staggered detector), one check starts that many connects, spread
 * evenly over one timeout (attempt i starts at i × timeout / attempts), each with the full
 * timeout: the check passes at the first connect that succeeds (the others are cancelled) and
 * fails when all of them time out (after about twice the timeout), or when one is refused and
 * the refusals last `refusalWindowMs` (0: at once). Random loss must drop every connect to fail a check (probability loss^attempts),
 * while a dead NAT fails it about as fast as a single connect would.
 */
export function createTcpProbe(
  options: {
    readonly port: number;
    readonly timeoutMs: number;
    /** Staggered connects per check (default 1). */
    readonly attempts?: number;
    /**
     * How long a refusal must last to fail the check (default 0: at once). Meanwhile the
     * check keeps connecting, `attempts` times over the window, and passes if one succeeds.
     */
    readonly refusalWindowMs?: number;
    readonly now?: () => number;
  },
): Probe {
  const now = options.now ?? (() => performance.now());
  const attempts = Math.max(1, options.attempts ?? 1);
  const staggerMs = options.timeoutMs / attempts;
  const refusalWindowMs = options.refusalWindowMs ?? 0;
  return async ({ instanceId, address }) => {
    if (address === undefined) {
      return { instanceId, healthy: false, error: "no_address", latencyMs: 0 };
    }
    const started = now();
    const done = new AbortController();
    let next: ReturnType<typeof setTimeout> | undefined;
    const running: Promise<void>[] = [];
    try {
      const outcome = await new Promise<{ ok: true } | { ok: false; error: string }>(
        (resolve) => {
          let failed = 0;
          let lastError = "error";
          const start = () => {
            running.push(
              connectOnce(address, options.port, options.timeoutMs, done.signal).then(
                (result) => {
                  if (result.ok) return resolve(result);
                  // A refusal (or any answer but silence) is the NAT's own word, which random
                  // loss never forges: the check fails at once. Only silence is worth retrying.
                  if (result.error !== "timeout") return resolve(result);
                  lastError = result.error;
                  failed += 1;
                  if (failed === attempts) resolve({ ok: false, error: lastError });
                },
              ),
            );
          };
          // One timer at a time, each starting the next attempt: a check that passes at its
          // first connect (the steady state) costs one timer, not one per attempt.
          let started = 0;
          const startNext = () => {
            start();
            started += 1;
            next = started < attempts ? setTimeout(startNext, staggerMs) : undefined;
          };
          startNext();
        },
      );
      if (!outcome.ok && outcome.error !== "timeout" && refusalWindowMs > 0) {
        // The NAT answered "no": its box is up. Move its tables only if that lasts (a squid
        // restart, a health port closed by the self-check for good).
        clearTimeout(next);
        done.abort(CHECK_OVER);
        await Promise.all(running);
        if (await stillRefusing(address, outcome.error)) {
          return { instanceId, healthy: false, error: outcome.error, latencyMs: now() - started };
        }
        return { instanceId, healthy: true, error: undefined, latencyMs: now() - started };
      }
      return outcome.ok
        ? { instanceId, healthy: true, error: undefined, latencyMs: now() - started }
        : { instanceId, healthy: false, error: outcome.error, latencyMs: now() - started };
    } finally {
      clearTimeout(next);
      done.abort(CHECK_OVER); // cancels the connects still in flight; wait for them to settle
      await Promise.all(running);
    }
  };

  /** Connects again through the refusal window; `false` as soon as one succeeds. */
  async function stillRefusing(address: string, _error: string): Promise<boolean> {
    const until = now() + refusalWindowMs;
    const never = new AbortController().signal;
    while (now() < until) {
      await new Promise((resolve) => setTimeout(resolve, refusalWindowMs / attempts));
      const result = await connectOnce(address, options.port, options.timeoutMs, never);
      if (result.ok) return false;
    }
    return true;
  }
}

/** Probes every target concurrently; resolves when all have answered or timed out. */
export function probeAll(
  probe: Probe,
  targets: readonly ProbeTarget[],
): Promise<ProbeResult[]> {
  return Promise.all(targets.map(probe));
}
