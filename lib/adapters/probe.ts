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
function causeOf(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "refused";
  if (error instanceof Deno.errors.NotCapable) return "not_permitted";
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  return error instanceof Error ? error.name : "error";
}

type Outcome = { ok: true } | { ok: false; error: string };

/** Why a check cancels its other connects: one shared reason (no exception built per check). */
const CHECK_OVER = new Error("check over");
/** Why a connect is abandoned when its timeout has passed. */
const TIMED_OUT = new Error("timed out");

/**
 * A probe that connects to `port` with `timeoutMs`; `now` measures latency.
 *
 * With `attempts` > 1 (the staggered detector), one check starts that many connects, spread
 * evenly over one timeout (attempt i starts at i × timeout / attempts), each with the full
 * timeout: the check passes at the first connect that succeeds (the others are cancelled) and
 * fails when all of them time out (after about twice the timeout), or when one is refused and
 * the refusals last `refusalWindowMs` (0: at once). Random loss must drop every connect to
 * fail a check (probability loss^attempts), while a dead NAT fails it about as fast as a
 * single connect would.
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
  const tickMs = options.timeoutMs / attempts;
  const refusalWindowMs = options.refusalWindowMs ?? 0;
  return async ({ instanceId, address }) => {
    if (address === undefined) {
      return { instanceId, healthy: false, error: "no_address", latencyMs: 0 };
    }
    const started = now();
    let outcome = await check(address);
    if (!outcome.ok && outcome.error !== "timeout" && refusalWindowMs > 0) {
      // The NAT answered "no": its box is up. Move its tables only if that lasts (a squid
      // restart, a health port closed by the self-check for good).
      outcome = await refusedThroughWindow(address, outcome);
    }
    return outcome.ok
      ? { instanceId, healthy: true, error: undefined, latencyMs: now() - started }
      : { instanceId, healthy: false, error: outcome.error, latencyMs: now() - started };
  };

  /**
   * One check of `address`. Its clock is a single timer ticking every timeout / attempts:
   * each tick starts the next attempt and abandons the one that started `attempts` ticks
   * before (its timeout has passed). The timer stops once the check is over, so a check that
   * passes at its first connect (the steady state) sets one timer and no other: a timer set
   * and cleared still wakes the process, and on a t4g.nano each wake-up costs CPU credits.
   */
  async function check(address: string): Promise<Outcome> {
    const connects: AbortController[] = [];
    const settling: Promise<void>[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await new Promise<Outcome>((resolve) => {
      let over = false;
      let timedOut = 0;
      const finish = (result: Outcome) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        for (const connect of connects) connect.abort(CHECK_OVER);
        resolve(result);
      };
      const start = () => {
        const abort = new AbortController();
        connects.push(abort);
        settling.push(
          Deno.connect({ hostname: address, port: options.port, signal: abort.signal }).then(
            (conn) => {
              conn.close();
              finish({ ok: true });
            },
            (error) => {
              if (abort.signal.reason === CHECK_OVER) return;
              // A refusal (or any answer but silence) is the NAT's own word, which random
              // loss never forges: the check fails at once. Only silence is worth retrying.
              if (abort.signal.reason !== TIMED_OUT) {
                return finish({ ok: false, error: causeOf(error) });
              }
              timedOut += 1;
              if (timedOut === attempts) finish({ ok: false, error: "timeout" });
            },
          ),
        );
      };
      // Ticks are due at fixed times from the start, so timer lateness does not add up.
      const began = performance.now();
      let ticks = 0;
      const next = () =>
        setTimeout(tick, Math.max(0, began + (ticks + 1) * tickMs - performance.now()));
      const tick = () => {
        ticks += 1;
        connects[ticks - attempts]?.abort(TIMED_OUT);
        if (connects.length < attempts) start();
        if (!over) timer = next();
      };
      start();
      timer = next();
    });
    await Promise.all(settling); // every connect has settled: nothing outlives the check
    return outcome;
  }

  /** Checks again through the refusal window; passes as soon as one check does. */
  async function refusedThroughWindow(address: string, refused: Outcome): Promise<Outcome> {
    const until = now() + refusalWindowMs;
    while (now() < until) {
      await new Promise((resolve) => setTimeout(resolve, refusalWindowMs / attempts));
      if ((await check(address)).ok) return { ok: true };
    }
    return refused;
  }
}

/** Probes every target concurrently; resolves when all have answered or timed out. */
export function probeAll(
  probe: Probe,
  targets: readonly ProbeTarget[],
): Promise<ProbeResult[]> {
  return Promise.all(targets.map(probe));
}
