/**
 * @module The demo's story: one real router process per NAT instance of a `DemoWorld`, and
 * the steps played on them — initial allocation, a NAT going silent (failover), the
 * leader's process killed (takeover), everything coming back (failback). It reads the
 * routers' log lines and the world's record of route writes, measures each step on one
 * clock that starts with the demo, and hands plain data (`Snapshot`, `DemoEvent`,
 * `Summary`) to a `DemoOutput`. It draws nothing itself.
 */
import { DEFAULT_TIMING, stopAll } from "../../tests/e2e.ts";
import type { RouterProcess } from "../../tests/router_process.ts";
import type {
  DemoEvent,
  DemoTiming,
  NatView,
  RouteMove,
  RouterState,
  Snapshot,
  StepResult,
  StepView,
  Summary,
} from "./snapshot.ts";
import type { DemoWorld } from "./world.ts";

/** The router's default timing, except a failback delay short enough for a demo. */
export const TIMING_FLAGS = [...DEFAULT_TIMING, "--failback-delay", "5s"] as const;

export const SCENARIOS = {
  all: [1, 2, 3, 4],
  failover: [1, 2],
  takeover: [1, 3],
  failback: [1, 2, 4],
} as const satisfies Record<string, readonly number[]>;
export type ScenarioName = keyof typeof SCENARIOS;

export const STEP_TIMEOUT_MS = 20_000;
const FIRST_STEP_TIMEOUT_MS = 30_000;
/** After a step converged: watch this long that nothing moves again (no flapping). */
const HOLD_MS = 1_000;
const TICK_MS = 50;
/** How long a route write waits for the writer's log line (its reason) before it is told. */
const REASON_WAIT_MS = 400;
/** Events kept for the snapshot. */
const RECENT_EVENTS = 12;

/** Where the scenario's data goes: a live screen or a log. */
export interface DemoOutput {
  /** Something happened. */
  event(event: DemoEvent, snapshot: Snapshot): void;
  /** The world now, several times a second. */
  tick(snapshot: Snapshot): void;
  /** A raw router log line (`--verbose` only). */
  routerLine(router: string, line: string): void;
}

export class StepTimeout extends Error {}
export class Interrupted extends Error {}

/** Reads `--name value` timing flags into numbers (durations like `500ms`, `1s`). */
export function timingOf(flags: readonly string[]): DemoTiming {
  const value = (name: string) => {
    const at = flags.lastIndexOf(`--${name}`);
    const text = at < 0 ? undefined : flags[at + 1];
    if (text === undefined) throw new Error(`The demo's timing lacks --${name}`);
    return text;
  };
  const ms = (name: string) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(value(name));
    if (!match) throw new Error(`Cannot read --${name} "${value(name)}": expected 500ms or 5s`);
    return Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  };
  return {
    intervalMs: ms("interval"),
    probeIntervalMs: ms("probe-interval"),
    timeoutMs: ms("timeout"),
    fall: Number(value("fall")),
    rise: Number(value("rise")),
    failbackDelayMs: ms("failback-delay"),
  };
}

/** `key=value` fields of a log line (values may be JSON-quoted). */
export function logFields(
  line: string,
): { event: string | undefined; fields: Record<string, string> } {
  const event = /^\S+ [A-Z]+ (\S+)/.exec(line)?.[1];
  const fields: Record<string, string> = {};
  for (const match of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key, raw] = match;
    if (key === undefined || raw === undefined) continue;
    try {
      fields[key] = raw.startsWith('"') ? JSON.parse(raw) : raw;
    } catch {
      fields[key] = raw;
    }
  }
  return { event, fields };
}

interface Verdict {
  readonly healthy: boolean;
  readonly error: string;
  /** When it came back from an unhealthy verdict (clock ms). */
  readonly recoveredAtMs: number | undefined;
}

/** One router process as the demo follows it. */
class Router {
  readonly name: string;
  readonly natId: string;
  readonly process: RouterProcess;
  /** Lines of `process.lines` already read. */
  read = 0;
  killed = false;
  exitCode: number | undefined;
  /** Its latest verdict on each NAT instance (from `health.changed`). */
  readonly health = new Map<string, Verdict>();
  leader: string | undefined;
  role: string | undefined;

  constructor(name: string, natId: string, process: RouterProcess) {
    this.name = name;
    this.natId = natId;
    this.process = process;
    void process.exited.then((code) => this.exitCode = code);
  }

  get running(): boolean {
    return this.exitCode === undefined && !this.killed;
  }

  get state(): RouterState {
    if (this.killed) return { name: this.name, state: "killed" };
    if (this.exitCode !== undefined) {
      return { name: this.name, state: "exited", exitCode: this.exitCode };
    }
    const state = this.role === "leader" || this.role === "follower" ? this.role : "starting";
    return { name: this.name, state };
  }
}

interface StepSpec {
  readonly n: number;
  readonly name: string;
  readonly title: string;
  readonly what: string;
  /** What happens at t=0. */
  readonly since: string;
  /** Done before t=0 (not timed). */
  readonly prepare?: () => Promise<void>;
  /** Starts at t=0, the time every move of the step is measured from. */
  readonly fault: () => Promise<void>;
  readonly expected?: string;
}

export interface ScenarioOptions {
  readonly scenario: ScenarioName;
  readonly verbose: boolean;
}

export class Scenario {
  readonly world: DemoWorld;
  readonly options: ScenarioOptions;
  readonly output: DemoOutput;
  readonly timing: DemoTiming;
  readonly interrupt = new AbortController();
  readonly results: StepResult[] = [];
  readonly #routers: Router[] = [];
  /** The one clock: every time on screen is since this instant (wall clock, as EC2 records). */
  readonly #startedAt = Date.now();
  readonly #events: DemoEvent[] = [];
  /** Events not told yet (see `#emit`). */
  readonly #outbox: DemoEvent[] = [];
  #step: StepView | undefined;
  #status: string | undefined;
  #writesSeen = 0;
  readonly #lastMove = new Map<string, RouteMove>();
  /** Writes seen in EC2, waiting for the writer's log line with the reason. */
  #pending: {
    write: { routeTableId: string; to: string | undefined; atMs: number };
    from: string | undefined;
    fromForwarding: boolean;
  }[] = [];
  /** route table id → the reasons routers logged for writes to it, not yet matched to one. */
  readonly #reasons = new Map<string, { to: string | undefined; reason: string }[]>();
  /** Route writes each router logged, across restarts. */
  readonly #writesBy = new Map<string, number>();
  #announcedLeader: string | undefined;
  readonly #announcedHealth = new Map<string, boolean>();
  /** NATs made to fail by the scenario, not yet brought back. */
  readonly #faulty = new Set<string>();

  constructor(world: DemoWorld, options: ScenarioOptions, output: DemoOutput) {
    this.world = world;
    this.options = options;
    this.output = output;
    this.timing = timingOf(TIMING_FLAGS);
    this.#initialTargets = new Map(
      world.fleet.routeTableIds.map((id) => [id, world.defaultRouteTarget(id)]),
    );
  }

  get nats(): readonly string[] {
    return this.world.fleet.natIds;
  }

  /** Milliseconds on the demo clock. */
  now(): number {
    return Date.now() - this.#startedAt;
  }

  // --- what the screen sees ---

  snapshot(): Snapshot {
    const { fleet } = this.world;
    const running = this.#routers.filter((r) => r.running);
    const tables = fleet.routeTableIds.map((id) => ({
      id,
      zone: this.world.tableZone(id),
      target: this.world.defaultRouteTarget(id),
      lastMove: this.#lastMove.get(id),
    }));
    const nats = this.nats.map((id, index): NatView => {
      const verdicts = running.flatMap((r) => r.health.get(id) ?? []);
      const healthy = verdicts.filter((v) => v.healthy);
      const zone = this.world.zoneOf(id) ?? "?";
      const router = this.#routers.find((r) => r.natId === id);
      return {
        id,
        name: this.natName(id),
        zone,
        launchRank: index + 1,
        actual: this.world.natState(id),
        forwarding: this.world.natForwards(id),
        saidHealthy: healthy.length,
        saidUnhealthy: verdicts.length - healthy.length,
        routers: running.length,
        errors: [...new Set(verdicts.filter((v) => !v.healthy).map((v) => v.error))],
        recoveredAtMs: healthy.some((v) => v.recoveredAtMs !== undefined)
          ? Math.max(...healthy.map((v) => v.recoveredAtMs ?? 0))
          : undefined,
        tables: tables.filter((t) => t.target === id).length,
        router: router?.state,
      };
    });
    return {
      clockMs: this.now(),
      world: this.world.description,
      timing: this.timing,
      step: this.#step,
      nats,
      tables,
      others: fleet.otherTables.map(({ id, label }) => ({
        id,
        label,
        target: this.world.defaultRouteTarget(id),
      })),
      leader: this.agreedLeader(),
      claims: running.map((r) => ({ router: r.name, leader: r.leader })),
      events: this.#events.slice(-RECENT_EVENTS),
      status: this.#status,
    };
  }

  /** "a1": the zone's last letter and the NAT's launch rank within its zone. */
  natName(id: string): string {
    const zone = this.world.zoneOf(id) ?? "?";
    const rank = (this.world.fleet.natsByZone[zone] ?? []).indexOf(id) + 1;
    return `${zone.slice(-1)}${rank}`;
  }

  /**
   * Tells events in clock order: an event waits while a route write seen before it waits for
   * its reason (at most `REASON_WAIT_MS`), so the log's times never go back.
   */
  #emit(event: DemoEvent): void {
    this.#outbox.push(event);
    this.#release();
  }

  #release(): void {
    const horizon = Math.min(...this.#pending.map((p) => p.write.atMs));
    this.#outbox.sort((a, b) => a.atMs - b.atMs);
    while (this.#outbox.length > 0 && this.#outbox[0]!.atMs < horizon) {
      const event = this.#outbox.shift()!;
      this.#events.push(event);
      if (this.#events.length > RECENT_EVENTS * 4) this.#events.splice(0, RECENT_EVENTS * 2);
      this.output.event(event, this.snapshot());
    }
  }

  #action(text: string): void {
    this.#emit({ kind: "action", atMs: this.now(), text, t0: false });
  }

  // --- routers ---

  /** The leader the running routers agree on, if they all have one and agree. */
  agreedLeader(): string | undefined {
    const running = this.#routers.filter((r) => r.running);
    const leaders = new Set(running.map((r) => r.leader));
    if (running.length === 0 || running.some((r) => r.role === undefined) || leaders.size !== 1) {
      return undefined;
    }
    return [...leaders][0];
  }

  #startRouters(): void {
    this.world.startRouters(TIMING_FLAGS).forEach((process, n) => {
      this.#routers.push(new Router(process.name, this.nats[n]!, process));
    });
  }

  #restart(old: Router): Router {
    const process = this.world.startRouter(old.name, old.natId, TIMING_FLAGS);
    const fresh = new Router(old.name, old.natId, process);
    this.#routers[this.#routers.indexOf(old)] = fresh;
    return fresh;
  }

  // --- the poll loop ---

  tick(): void {
    for (const router of this.#routers) this.#readLines(router);
    this.#readWrites();
    this.#announce();
    this.output.tick(this.snapshot());
  }

  #readLines(router: Router): void {
    const lines = router.process.lines;
    while (router.read < lines.length) {
      const line = lines[router.read++]!;
      if (this.options.verbose) this.output.routerLine(router.name, line);
      const { event, fields } = logFields(line);
      if (event === "health.changed" && fields.instance_id !== undefined) {
        router.health.set(fields.instance_id, {
          healthy: fields.healthy === "true",
          error: fields.error ?? "-",
          recoveredAtMs: fields.healthy === "true" && fields.previous === "false"
            ? this.now()
            : undefined,
        });
      } else if (event === "leader.changed") {
        router.leader = fields.leader === "-" ? undefined : fields.leader;
        router.role = fields.role;
      } else if (
        (event === "route.created" || event === "route.replaced") &&
        fields.route_table_id !== undefined && fields.reason !== undefined
      ) {
        this.#writesBy.set(router.name, (this.#writesBy.get(router.name) ?? 0) + 1);
        const logged = this.#reasons.get(fields.route_table_id) ?? [];
        logged.push({ to: fields.to, reason: fields.reason });
        this.#reasons.set(fields.route_table_id, logged);
      }
    }
  }

  #readWrites(): void {
    for (const write of this.world.routeWrites(this.#writesSeen)) {
      this.#writesSeen++;
      const from = this.#targets.has(write.routeTableId)
        ? this.#targets.get(write.routeTableId)
        : this.#initialTargets.get(write.routeTableId);
      this.#targets.set(write.routeTableId, write.to);
      const atMs = write.time - this.#startedAt;
      this.#lastMove.set(write.routeTableId, { atMs, from, reason: undefined });
      this.#pending.push({
        write: { routeTableId: write.routeTableId, to: write.to, atMs },
        from,
        fromForwarding: from !== undefined && this.nats.includes(from) &&
          this.world.natForwards(from),
      });
    }
    const now = this.now();
    this.#pending = this.#pending.filter(({ write, from, fromForwarding }) => {
      // Writes and their log lines come in the same order per table; a write whose line never
      // comes (its router killed in between) is told without a reason.
      const logged = this.#reasons.get(write.routeTableId) ?? [];
      const match = logged.findIndex((l) => l.to === undefined || l.to === write.to);
      const reason = match < 0 ? undefined : logged.splice(0, match + 1).at(-1)?.reason;
      if (reason === undefined && now - write.atMs < REASON_WAIT_MS) return true;
      const move = this.#lastMove.get(write.routeTableId);
      if (move && move.atMs === write.atMs) {
        this.#lastMove.set(write.routeTableId, { ...move, reason });
      }
      this.#emit({
        kind: "route",
        atMs: write.atMs,
        routeTableId: write.routeTableId,
        zone: this.world.tableZone(write.routeTableId),
        from,
        to: write.to,
        reason,
        fromForwarding,
      });
      return false;
    });
    this.#release();
  }

  /** What each table's default route pointed at after the writes read so far. */
  readonly #targets = new Map<string, string | undefined>();
  /** What each tagged table's default route pointed at when the demo started. */
  readonly #initialTargets: ReadonlyMap<string, string | undefined>;

  /** Leader and health changes the running routers agree on. */
  #announce(): void {
    const leader = this.agreedLeader();
    if (leader !== undefined && leader !== this.#announcedLeader) {
      const previous = this.#announcedLeader;
      this.#announcedLeader = leader;
      this.#emit({ kind: "leader", atMs: this.now(), leader, previous });
    }
    const running = this.#routers.filter((r) => r.running);
    if (running.length === 0) return;
    for (const id of this.nats) {
      const verdicts = running.map((r) => r.health.get(id));
      const first = verdicts[0];
      if (first === undefined || verdicts.some((v) => v?.healthy !== first.healthy)) continue;
      const before = this.#announcedHealth.get(id);
      if (before === first.healthy) continue;
      this.#announcedHealth.set(id, first.healthy);
      if (before === undefined && first.healthy) continue;
      this.#emit({
        kind: "health",
        atMs: this.now(),
        natId: id,
        healthy: first.healthy,
        routers: running.length,
        errors: [...new Set(verdicts.flatMap((v) => v && !v.healthy ? [v.error] : []))],
      });
    }
  }

  async sleep(ms: number): Promise<void> {
    if (this.interrupt.signal.aborted) throw new Interrupted("Interrupted");
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Ticks until `check()` holds; throws `StepTimeout` after `timeoutMs`. */
  async until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    const started = this.now();
    for (;;) {
      this.tick();
      if (check()) return;
      if (this.now() - started > timeoutMs) {
        const step = this.#step ? `Step ${this.#step.n} (${this.#step.name})` : "The demo";
        throw new StepTimeout(
          `${step} did not converge within ${timeoutMs / 1000}s: waiting until ${what}`,
        );
      }
      await this.sleep(TICK_MS);
    }
  }

  async hold(ms: number): Promise<void> {
    const started = this.now();
    while (this.now() - started < ms) {
      this.tick();
      await this.sleep(TICK_MS);
    }
    this.tick();
  }

  // --- convergence ---

  /** Tables on `healthy` NATs, same zone first, loads within one; routers agree on a healthy leader. */
  settled(healthy: readonly string[]): boolean {
    if (!this.world.allocatedTo(healthy)) return false;
    const tables = this.world.fleet.routeTableIds;
    const loads = healthy.map((id) =>
      tables.filter((t) => this.world.defaultRouteTarget(t) === id).length
    );
    if (Math.max(...loads) - Math.min(...loads) > 1) return false;
    const leader = this.agreedLeader();
    return leader !== undefined && healthy.includes(leader);
  }

  healthyNats(): string[] {
    return this.nats.filter((id) => !this.#faulty.has(id));
  }

  async step(spec: StepSpec, index: number, count: number): Promise<void> {
    const { fleet } = this.world;
    this.#step = {
      n: spec.n,
      index,
      count,
      name: spec.name,
      title: spec.title,
      startedAtMs: this.now(),
      faultAtMs: undefined,
      waitingFor: spec.what,
      convergedMs: undefined,
      holding: false,
    };
    this.#emit({ kind: "step", atMs: this.now(), step: this.#step });
    const before = new Map(fleet.routeTableIds.map((t) => [t, this.world.defaultRouteTarget(t)]));
    await spec.prepare?.();
    this.tick();
    const firstWrite = this.#writesSeen;
    const faultAtMs = this.now();
    this.#step = { ...this.#step, faultAtMs };
    await spec.fault();
    // Told once the fault is in effect, so that the screen sees what it changed.
    this.#emit({ kind: "action", atMs: faultAtMs, text: spec.since, t0: true });
    const healthy = this.healthyNats();
    await this.until(
      spec.what,
      () => this.settled(healthy),
      spec.n === 1 ? FIRST_STEP_TIMEOUT_MS : STEP_TIMEOUT_MS,
    );
    const writes = this.world.routeWrites(firstWrite);
    const ms = writes.length > 0
      ? Math.max(...writes.map((w) => w.time)) - this.#startedAt - faultAtMs
      : this.now() - faultAtMs;
    const moved = [...before].filter(([t, target]) => this.world.defaultRouteTarget(t) !== target)
      .length;
    const converged = this.#writesSeen;
    // Tell the step's last moves (with their reasons) before it is called converged.
    await this.until("the routers logged their writes", () => this.#pending.length === 0, 2_000);
    const measured = { n: spec.n, name: spec.name, ms, moved, expected: spec.expected };
    this.#step = { ...this.#step, convergedMs: ms, holding: true };
    this.#emit({
      kind: "converged",
      atMs: this.now(),
      result: { ...measured, writes: writes.length, extraWrites: 0 },
    });
    await this.hold(HOLD_MS);
    const extraWrites = this.world.routeWrites(converged).length;
    if (extraWrites > 0) this.#emit({ kind: "flapping", atMs: this.now(), extraWrites });
    this.#step = { ...this.#step, holding: false };
    this.results.push({ ...measured, writes: writes.length + extraWrites, extraWrites });
  }

  // --- the story ---

  async run(): Promise<void> {
    const numbers: readonly number[] = SCENARIOS[this.options.scenario];
    // Each step is described when it starts, from the state the steps before it left.
    const steps = [
      () => this.#initialAllocation(),
      ...(numbers.includes(2) ? [() => this.#failover()] : []),
      ...(numbers.includes(3) ? [() => this.#takeover()] : []),
      ...(numbers.includes(4) ? [() => this.#failback()] : []),
    ];
    for (const [index, describe] of steps.entries()) {
      await this.step(describe(), index + 1, steps.length);
    }
  }

  #initialAllocation(): StepSpec {
    return {
      n: 1,
      name: "initial allocation",
      title: `${this.nats.length} routers start; the leader points every tagged table`,
      what:
        "every tagged table is on a NAT of its zone (else the least loaded) and a leader is agreed",
      since: "the routers start",
      fault: () => Promise.resolve(this.#startRouters()),
    };
  }

  /** The NAT alone in its zone (b1) goes silent. */
  #failover(): StepSpec {
    const t = this.timing;
    const lonely =
      this.nats.find((id) =>
        this.world.fleet.natsByZone[this.world.zoneOf(id) ?? ""]?.length === 1
      ) ?? this.nats.at(-1)!;
    const name = this.natName(lonely);
    return {
      n: 2,
      name: "failover",
      title: `${name} (${lonely}), the only NAT in ${this.world.zoneOf(lonely)}, goes silent`,
      what: `${name}'s tables are on healthy NATs`,
      since: `${name} goes silent (connects time out)`,
      fault: async () => {
        this.#faulty.add(lonely);
        await this.world.setNat(lonely, "silent");
      },
      expected: `≈ ${s(t.probeIntervalMs)}–${s(2 * t.probeIntervalMs)} s: ${t.fall} failed ` +
        `probes (one every ${s(t.probeIntervalMs)} s, ${s(t.timeoutMs)} s timeout)`,
    };
  }

  /** The leader's router is killed and its NAT goes silent. */
  #takeover(): StepSpec {
    const t = this.timing;
    const leader = this.agreedLeader() ?? this.nats[0]!;
    const router = this.#routers.find((r) => r.natId === leader && r.running);
    if (!router) throw new Error(`No running router on the leader "${leader}"`);
    const name = this.natName(leader);
    return {
      n: 3,
      name: "takeover",
      title: `the leader ${name}: ${router.name} is SIGKILLed and ${name} goes silent`,
      what: `a follower leads and ${name}'s tables are on healthy NATs`,
      since: `${router.name} is killed, ${name} goes silent`,
      fault: async () => {
        this.#faulty.add(leader);
        router.killed = true;
        await Promise.all([router.process.kill(), this.world.setNat(leader, "silent")]);
      },
      expected: `≈ ${s(t.probeIntervalMs)}–${s(2 * t.probeIntervalMs)} s: the followers' own ` +
        `${t.fall} failed probes, then the new leader writes`,
    };
  }

  /** Every failed NAT answers again; killed routers are started again first. */
  #failback(): StepSpec {
    const t = this.timing;
    const back = [...this.#faulty];
    const names = back.map((id) => this.natName(id)).join(" and ");
    const one = back.length === 1;
    const killed = this.#routers.filter((r) => r.killed);
    const restarting = killed.map((r) => r.name).join(", ");
    return {
      n: 4,
      name: "failback",
      title: `${names} ${one ? "comes" : "come"} back${
        killed.length ? ` (${restarting} restarted first)` : ""
      }`,
      what: "the tables are back on their zone's NATs, evenly spread",
      since: `${names} ${one ? "answers" : "answer"} again`,
      prepare: async () => {
        // As on a rebooted NAT instance, where systemd starts the router before squid: the
        // restarted router sees its own NAT down, follows, then watches it recover.
        if (killed.length === 0) return;
        const restarted = killed.map((r) => this.#restart(r));
        const down = killed.map((r) => this.natName(r.natId));
        this.#action(
          `${restarting} restarted while ${down.join(" and ")} ${
            down.length === 1 ? "is" : "are"
          } still down`,
        );
        await this.until(
          `${restarting} logged leader.changed`,
          () => restarted.every((r) => r.role !== undefined),
          STEP_TIMEOUT_MS,
        );
      },
      fault: async () => {
        await Promise.all(back.map((id) => this.world.setNat(id, "up")));
        this.#faulty.clear();
      },
      expected:
        `≈ ${s(t.failbackDelayMs + t.probeIntervalMs)}–${
          s(t.failbackDelayMs + 2 * t.probeIntervalMs)
        } s per move (${t.rise} good probes, then failback-delay ${s(t.failbackDelayMs)} s); ` +
        `a table moved twice also waits for the delay and the leader's next look (every ${
          s(t.intervalMs)
        } s)`,
    };
  }

  async keepRunning(): Promise<void> {
    this.#step = undefined;
    this.#status = "fleet still running (--keep-running); Ctrl-C to stop";
    while (!this.interrupt.signal.aborted) {
      this.tick();
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    this.#status = undefined;
    this.tick();
  }

  summary(): Summary {
    const remit = this.world.remit();
    return {
      results: this.results,
      totalWrites: this.world.routeWrites().length,
      writesBy: this.#routers.map((r) => ({
        router: r.name,
        writes: this.#writesBy.get(r.name) ?? 0,
      })),
      remit: remit.tables,
      outsideRemit: remit.outside,
    };
  }

  /** Stops every running router with SIGTERM; `error` unless each exited 0. */
  async stop(): Promise<{ routers: string[]; error: string | undefined }> {
    for (const router of this.#routers) {
      if (router.killed) await router.process.exited;
    }
    const running = this.#routers.filter((r) => !r.killed);
    try {
      await stopAll(running.map((r) => r.process));
      return { routers: running.map((r) => r.name), error: undefined };
    } catch (error) {
      return { routers: running.map((r) => r.name), error: String(error) };
    }
  }
}

const s = (ms: number) => String(Math.round(ms / 100) / 10);
