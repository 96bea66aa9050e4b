/**
 * @module The health-check side of a simulated NAT instance: TCP listeners on its 127.x
 * addresses (private, and public when it has one) at the shared health port, switchable at
 * run time between modes:
 *
 * - `up`: connections are accepted and closed at once;
 * - `refusing`: no listener, so a connect fails at once with "connection refused";
 * - `silent`: connects time out. A fresh listener is left unaccepted and its accept backlog
 *   filled with our own connections (opened until three in a row fail to connect within
 *   50 ms); the kernel then drops further SYNs. Leaving the mode closes those connections
 *   and accepts (and closes) whatever is queued;
 * - `flaky`: `up`, interrupted by blips of `refusing`. From the moment the mode is set: a gap
 *   drawn uniformly from [minGapMs, maxGapMs) (default 1.2–2.0 s), a blip of blipMs (default
 *   400 ms), a new gap, and so on, drawn from a PRNG seeded by `seed` (default 1), so a run
 *   is reproducible (`flakyBlips` yields the same schedule). A probe misses iff it lands in a
 *   blip: about blip / (blip + mean gap) = 1 probe in 5 by default; a prober whose probes are
 *   between blipMs and minGapMs apart (a 1 s prober by default) never misses two in a row.
 *
 * Also `probeTcp`, a connect with a deadline that reports connected / refused / timeout.
 */

import { type Random, seededRandom, uniform } from "./random.ts";

export type NatMode = "up" | "refusing" | "silent" | "flaky";

export interface FlakyOptions {
  readonly seed?: number;
  readonly blipMs?: number;
  readonly minGapMs?: number;
  readonly maxGapMs?: number;
}

export interface Blip {
  /** Milliseconds after the mode was set. */
  readonly start: number;
  readonly end: number;
}

/** The flaky schedule: refusing during each blip, up in between, forever. */
export function* flakyBlips(options: FlakyOptions = {}): Generator<Blip, never> {
  const { seed = 1, blipMs = 400, minGapMs = 1200, maxGapMs = 2000 } = options;
  const random: Random = seededRandom(seed);
  for (let start = 0;;) {
    start += uniform(random, minGapMs, maxGapMs);
    yield { start, end: start + blipMs };
    start += blipMs;
  }
}

export type ProbeOutcome = "connected" | "refused" | "timeout" | "error";

/** One TCP connect to `hostname:port`, abandoned after `timeoutMs`; never throws. */
export async function probeTcp(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<{ readonly outcome: ProbeOutcome; readonly ms: number }> {
  const started = performance.now();
  const connection = await connectWithin(hostname, port, timeoutMs);
  const ms = performance.now() - started;
  if (connection instanceof Error) {
    const outcome = connection instanceof Deno.errors.ConnectionRefused
      ? "refused"
      : connection.name === "AbortError" || connection.name === "TimeoutError"
      ? "timeout"
      : "error";
    return { outcome, ms };
  }
  connection.close();
  return { outcome: "connected", ms };
}

async function connectWithin(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<Deno.TcpConn | Error> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("Timed out", "AbortError")),
    timeoutMs,
  );
  try {
    return await Deno.connect({ hostname, port, signal: abort.signal });
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
  }
}

interface Slot {
  readonly hostname: string;
  listener: Deno.Listener | undefined;
  /** The accept loop; the socket is only really closed once it has ended. */
  loop: Promise<void> | undefined;
  /** Our own connections filling the backlog in silent mode. */
  held: Deno.TcpConn[];
}

export class NatListener {
  readonly port: number;
  readonly #slots: Slot[];
  #mode: NatMode = "up";
  #accepted = 0;
  #queue: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #closed = false;

  /** Listen (mode `up`) on each address at `port` (0: any free port, the same for all). */
  constructor(addresses: readonly string[], port: number) {
    this.#slots = addresses.map((hostname) => ({
      hostname,
      listener: undefined,
      loop: undefined,
      held: [],
    }));
    let bound = port;
    try {
      for (const slot of this.#slots) {
        this.#open(slot, bound, true);
        bound = (slot.listener!.addr as Deno.NetAddr).port;
      }
    } catch (error) {
      for (const slot of this.#slots) slot.listener?.close();
      throw error;
    }
    this.port = bound;
  }

  get addresses(): readonly string[] {
    return this.#slots.map((s) => s.hostname);
  }

  get mode(): NatMode {
    return this.#mode;
  }

  /** Connections accepted so far: health probes answered (not the backlog filling's). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Switch mode; resolves once the new mode is in effect. Calls apply in order. */
  setMode(mode: NatMode, flaky: FlakyOptions = {}): Promise<void> {
    return this.#enqueue(() => this.#apply(mode, flaky));
  }

  /** Close everything; the listener cannot be used again. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#queue;
    clearTimeout(this.#timer);
    await Promise.all(this.#slots.map((slot) => this.#shut(slot)));
  }

  #enqueue(step: () => Promise<void> | void): Promise<void> {
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #apply(mode: NatMode, flaky: FlakyOptions): Promise<void> {
    if (this.#closed) return;
    this.#generation++;
    clearTimeout(this.#timer);
    this.#mode = mode;
    if (mode === "refusing") await this.#shutAll();
    if (mode === "up" || mode === "flaky") this.#upAll();
    if (mode === "flaky") this.#scheduleBlips(flakyBlips(flaky), performance.now());
    if (mode === "silent") {
      for (const slot of this.#slots) {
        await this.#shut(slot);
        this.#open(slot, this.port, false);
        await this.#fillBacklog(slot);
      }
    }
  }

  #scheduleBlips(blips: Generator<Blip, never>, origin: number): void {
    const { start, end } = blips.next().value;
    const generation = this.#generation;
    const at = (offset: number, step: () => Promise<void> | void) => {
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#enqueue(() => generation === this.#generation ? step() : undefined).catch(() => {});
      }, Math.max(0, origin + offset - performance.now()));
    };
    at(start, async () => {
      await this.#shutAll();
      at(end, () => {
        this.#upAll();
        this.#scheduleBlips(blips, origin);
      });
    });
  }

  #upAll(): void {
    for (const slot of this.#slots) {
      this.#accepted -= slot.held.length; // queued: accepting them is no probe
      this.#release(slot);
      this.#open(slot, this.port, true);
    }
  }

  async #shutAll(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#shut(slot)));
  }

  #open(slot: Slot, port: number, accept: boolean): void {
    slot.listener ??= Deno.listen({ hostname: slot.hostname, port });
    if (accept) slot.loop ??= this.#acceptAll(slot.listener);
  }

  async #acceptAll(listener: Deno.Listener): Promise<void> {
    try {
      for await (const connection of listener) {
        this.#accepted++;
        connection.close();
      }
    } catch {
      // The listener was closed.
    }
  }

  /** Close the listener and wait until connects are refused. */
  async #shut(slot: Slot): Promise<void> {
    slot.listener?.close();
    slot.listener = undefined;
    this.#release(slot);
    const loop = slot.loop;
    slot.loop = undefined;
    await loop;
  }

  #release(slot: Slot): void {
    for (const connection of slot.held) connection.close();
    slot.held = [];
  }

  async #fillBacklog(slot: Slot): Promise<void> {
    for (let failures = 0; failures < 3 && slot.held.length < 8192;) {
      const connection = await connectWithin(slot.hostname, this.port, 50);
      if (connection instanceof Error) failures++;
      else {
        failures = 0;
        slot.held.push(connection);
      }
    }
  }
}
