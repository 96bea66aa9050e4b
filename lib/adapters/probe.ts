/**
 * @module TCP health probe: the only caller of `Deno.connect`. A probe is a connect to
 * `address:port` bounded by a timeout; the connection is closed at once. Failures are
 * values (`{ healthy: false, error }`), never exceptions.
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

/** A probe that connects to `port` with `timeoutMs`; `now` measures latency. */
export function createTcpProbe(
  options: { readonly port: number; readonly timeoutMs: number; readonly now?: () => number },
): Probe {
  const now = options.now ?? (() => performance.now());
  return async ({ instanceId, address }) => {
    if (address === undefined) {
      return { instanceId, healthy: false, error: "no_address", latencyMs: 0 };
    }
    const started = now();
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, options.timeoutMs);
    try {
      const conn = await Deno.connect({
        hostname: address,
        port: options.port,
        signal: abort.signal,
      });
      conn.close();
      return { instanceId, healthy: true, error: undefined, latencyMs: now() - started };
    } catch (error) {
      return {
        instanceId,
        healthy: false,
        error: causeOf(error, timedOut),
        latencyMs: now() - started,
      };
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Probes every target concurrently; resolves when all have answered or timed out. */
export function probeAll(
  probe: Probe,
  targets: readonly ProbeTarget[],
): Promise<ProbeResult[]> {
  return Promise.all(targets.map(probe));
}
