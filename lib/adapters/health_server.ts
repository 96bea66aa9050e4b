/**
 * @module The health port this node serves (`--serve-health PORT`): the only caller of
 * `Deno.listen` for it. While serving, a TCP listener accepts every connection and closes it
 * at once — exactly what a peer's health probe (a TCP connect) needs. While not serving there
 * is no listener at all, so a peer's connect is refused at once rather than timing out.
 * Switching is idempotent and ordered; a listen that fails is a value, and the next
 * `setServing(true)` tries again.
 */

export interface HealthServerOptions {
  /** `0.0.0.0` for every interface (tests: a 127.x address). */
  readonly hostname: string;
  /** 0: any free port, kept across reopenings (tests). */
  readonly port: number;
}

/** The outcome of a switch: in effect, or why the listener could not be opened. */
export type ServeOutcome =
  | { readonly ok: true }
  | {
    readonly ok: false;
    /** Short, stable cause: `address_in_use`, `not_permitted`, `address_unavailable`, ... */
    readonly error: string;
    /** The runtime's message, for the log. */
    readonly detail: string;
  };

export interface HealthServer {
  readonly hostname: string;
  /** The port asked for, or the one bound once a listener has been opened on port 0. */
  readonly port: number;
  /** Whether the listener is open now. */
  readonly serving: boolean;
  /** Connections accepted (and closed) so far. */
  readonly accepted: number;
  /** Opens or closes the listener; resolves once that is in effect. Calls apply in order. */
  setServing(on: boolean): Promise<ServeOutcome>;
  /** Closes the listener for good; later `setServing` calls change nothing. */
  close(): Promise<void>;
}

function causeOf(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address_in_use";
  if (error instanceof Deno.errors.NotCapable) return "not_permitted";
  if (error instanceof Deno.errors.AddrNotAvailable) return "address_unavailable";
  if (error instanceof Deno.errors.PermissionDenied) return "permission_denied";
  return error instanceof Error ? error.name : "error";
}

/** A health server, not serving yet: call `setServing(true)` to open it. */
export function createHealthServer(options: HealthServerOptions): HealthServer {
  let port = options.port;
  let listener: Deno.Listener | undefined;
  let loop: Promise<void> | undefined;
  let accepted = 0;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  async function acceptAll(open: Deno.Listener): Promise<void> {
    try {
      for await (const connection of open) {
        accepted++;
        try {
          connection.close();
        } catch { /* reset by the peer already */ }
      }
    } catch {
      // The listener was closed.
    }
  }

  function open(): ServeOutcome {
    if (listener !== undefined) return { ok: true };
    try {
      listener = Deno.listen({ hostname: options.hostname, port });
    } catch (error) {
      return {
        ok: false,
        error: causeOf(error),
        detail: error instanceof Error ? error.message.split("\n")[0] ?? error.name : String(error),
      };
    }
    port = (listener.addr as Deno.NetAddr).port;
    loop = acceptAll(listener);
    return { ok: true };
  }

  /** Closes the listener and waits until the socket is released (connects refused). */
  async function shut(): Promise<void> {
    listener?.close();
    listener = undefined;
    const ended = loop;
    loop = undefined;
    await ended;
  }

  function enqueue<T>(step: () => T | Promise<T>): Promise<T> {
    const next = queue.then(step);
    queue = next.catch(() => {});
    return next;
  }

  return {
    hostname: options.hostname,
    get port() {
      return port;
    },
    get serving() {
      return listener !== undefined;
    },
    get accepted() {
      return accepted;
    },
    setServing(on) {
      return enqueue(async (): Promise<ServeOutcome> => {
        if (closed) return { ok: true };
        if (on) return open();
        await shut();
        return { ok: true };
      });
    },
    close() {
      return enqueue(async () => {
        closed = true;
        await shut();
      });
    },
  };
}
