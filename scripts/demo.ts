// deno-lint-ignore-file no-console
/**
 * @module The demo (`deno task demo`): a simulated VPC on loopback, one real router process
 * per NAT instance with `--ec2-election`, and a scripted scenario — initial allocation, a NAT
 * going silent (failover), the leader's process killed (takeover), everything coming back
 * (failback) — with a live table of route tables, NAT health and leadership, and the time
 * each move took, measured on the simulator's record of route writes.
 *
 * Output is plain text when stdout is not a terminal (a new table on each change); on a
 * terminal the table is redrawn in place below the event lines.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import {
  assertOnlyOwnRoutesChanged,
  DEFAULT_TIMING,
  misrouting,
  routerArgs,
  startFleet,
  stopAll,
} from "../tests/e2e.ts";
import { type RouterProcess, runArgs, simEnv, startRouter } from "../tests/router_process.ts";
import type { Ec2Snapshot } from "../tests/sim/ec2_sim.ts";
import { SimVpc, type StandardVpc } from "../tests/sim/vpc.ts";

/** The router's default timing, except a failback delay short enough for a demo. */
const TIMING = [...DEFAULT_TIMING, "--failback-delay", "5s"] as const;
const FAILBACK_DELAY_S = 5;
/** What `startFleet` adds in front of `TIMING` (mirrored to restart one router and to print). */
const FLEET_FLAGS = ["--ec2-election", "--log-level", "info"] as const;
const NET = "127.0.0.0/8";

const STEP_TIMEOUT_MS = 20_000;
const FIRST_STEP_TIMEOUT_MS = 30_000;
/** After a step converged: watch this long that nothing moves again (no flapping). */
const HOLD_MS = 1_500;
const TICK_MS = 20;
/** Without a terminal: print a changed table once it has been stable this long. */
const SETTLE_PRINT_MS = 300;

const SCENARIOS = {
  all: [1, 2, 3, 4],
  failover: [1, 2],
  takeover: [1, 3],
  failback: [1, 2, 4],
} as const satisfies Record<string, readonly number[]>;
type Scenario = keyof typeof SCENARIOS;

const HELP =
  `Demo of aws-nat-router against a simulated VPC on loopback (nothing leaves 127.0.0.0/8).

Starts a VPC with 3 zones (2, 1 and 0 NAT instances, 2 private route tables each, plus an
untagged table and one in another VPC), one real router process per NAT instance with
--ec2-election and the default timing (${TIMING.join(" ")}),
then runs a scenario and prints how long each move took.

Usage: deno task demo [flags]

Flags:
  --scenario NAME  all (default): 1 initial allocation, 2 failover, 3 takeover, 4 failback
                   failover: steps 1, 2   takeover: steps 1, 3   failback: steps 1, 2, 4
  --keep-running   After the scenario, keep the fleet running and the table live until Ctrl-C
  --verbose        Echo every router log line
  --help           Show this help

Exit code: 0 when every step converged, 1 when one did not (within ${
    STEP_TIMEOUT_MS / 1000
  }s) or cleanup failed,
2 for bad flags, 130 when interrupted.`;

interface Options {
  readonly scenario: Scenario;
  readonly keepRunning: boolean;
  readonly verbose: boolean;
}

function parseOptions(args: readonly string[]): Options | "help" {
  const { values } = parseArgs({
    args: [...args],
    options: {
      scenario: { type: "string", default: "all" },
      "keep-running": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const scenario = values.scenario;
  if (!(scenario in SCENARIOS)) {
    throw new Error(
      `Unknown --scenario "${scenario}": expected one of ${Object.keys(SCENARIOS).join(", ")}`,
    );
  }
  return {
    scenario: scenario as Scenario,
    keepRunning: values["keep-running"],
    verbose: values.verbose,
  };
}

// ---------------------------------------------------------------------------------------------
// Output: event lines scroll; the table is redrawn in place (terminal) or reprinted (pipe).

const encoder = new TextEncoder();

function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

class Screen {
  readonly live: boolean;
  /** Terminal rows the drawn table occupies (live mode). */
  #rows = 0;
  #drawn = "";
  #printed = "";
  #pending = "";
  #pendingSince = 0;

  constructor(live: boolean) {
    this.live = live;
  }

  /** A line that stays (an event, a heading). */
  line(text = ""): void {
    if (!this.live) return writeOut(text + "\n");
    this.#erase();
    writeOut(text + "\n");
    this.#draw(this.#drawn);
  }

  /** The current table (without volatile parts); `status` is shown only on a terminal. */
  table(frame: string, status: string): void {
    if (this.live) {
      const text = status ? `${frame}\n${status}` : frame;
      if (text === this.#drawn) return;
      this.#erase();
      this.#draw(text);
      return;
    }
    const now = performance.now();
    if (frame !== this.#pending) {
      this.#pending = frame;
      this.#pendingSince = now;
    }
    if (this.#pending !== this.#printed && now - this.#pendingSince >= SETTLE_PRINT_MS) {
      this.flush();
    }
  }

  /** Prints the latest table if it has not been printed yet (no terminal). */
  flush(): void {
    if (this.live || this.#pending === this.#printed || this.#pending === "") return;
    this.#printed = this.#pending;
    writeOut(this.#pending + "\n");
  }

  /** Leaves the table where it is (final output). */
  release(): void {
    this.#rows = 0;
    this.#drawn = "";
  }

  #draw(text: string): void {
    this.#drawn = text;
    if (!text) return;
    writeOut(text + "\n");
    const columns = consoleColumns();
    this.#rows = text.split("\n").reduce(
      (rows, line) => rows + Math.max(1, Math.ceil(line.length / columns)),
      0,
    );
  }

  #erase(): void {
    if (this.#rows > 0) writeOut(`\x1b[${this.#rows}F\x1b[J`);
    this.#rows = 0;
  }
}

function consoleColumns(): number {
  try {
    return Math.max(20, Deno.consoleSize().columns);
  } catch {
    return 200;
  }
}

function columns(rows: readonly (readonly string[])[], indent = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    indent + row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))
      .join("  ").trimEnd()
  );
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

// ---------------------------------------------------------------------------------------------
// Router processes and what their log lines say.

/** `key=value` fields of a log line (values may be JSON-quoted). */
function logFields(line: string): { event: string | undefined; fields: Record<string, string> } {
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

interface RouterView {
  readonly name: string;
  /** The NAT instance it runs on. */
  readonly natId: string;
  readonly process: RouterProcess;
  /** Lines of `process.lines` already read. */
  read: number;
  killed: boolean;
  exitCode: number | undefined;
  /** Its latest verdict on each NAT instance (from `health.changed`). */
  readonly health: Map<string, { healthy: boolean; error: string }>;
  /** From its latest `leader.changed`. */
  leader: string | undefined;
  role: string | undefined;
}

function view(name: string, natId: string, process: RouterProcess): RouterView {
  const router: RouterView = {
    name,
    natId,
    process,
    read: 0,
    killed: false,
    exitCode: undefined,
    health: new Map(),
    leader: undefined,
    role: undefined,
  };
  void process.exited.then((code) => router.exitCode = code);
  return router;
}

const isRunning = (r: RouterView) => r.exitCode === undefined && !r.killed;

// ---------------------------------------------------------------------------------------------
// The demo.

class StepTimeout extends Error {}
class Interrupted extends Error {}

interface StepResult {
  readonly n: number;
  readonly title: string;
  /** From the fault (or the start) to the last route write of the move. */
  readonly ms: number;
  readonly writes: number;
  readonly moved: number;
  /** Writes seen while holding after convergence (flapping). */
  readonly extraWrites: number;
}

class Demo {
  readonly vpc: StandardVpc;
  readonly options: Options;
  readonly screen: Screen;
  readonly routers: RouterView[] = [];
  readonly results: StepResult[] = [];
  readonly interrupt = new AbortController();
  readonly started = performance.now();
  /** Wall clock the current step's times are relative to. */
  #origin = Date.now();
  #status = "";
  /** The current step, for error messages. */
  #step = "The demo";
  #writesSeen = 0;
  #knownTargets = new Map<string, string | undefined>();
  /** Route writes each router logged (`route.created`/`route.replaced`), across restarts. */
  readonly #writesBy = new Map<string, number>();

  constructor(vpc: StandardVpc, options: Options, screen: Screen) {
    this.vpc = vpc;
    this.options = options;
    this.screen = screen;
  }

  get nats(): readonly string[] {
    return this.vpc.fleet.natIds;
  }

  short(id: string | undefined): string {
    if (id === undefined) return "-";
    return this.nats.includes(id) ? `${id} (${this.zoneOf(id)})` : id;
  }

  zoneOf(instanceId: string): string {
    return this.vpc.ec2.instance(instanceId)?.zone ?? "?";
  }

  stamp(): string {
    return `[+${((Date.now() - this.#origin) / 1000).toFixed(2)}s]`;
  }

  // --- routers ---

  routerCommand(n: number): { args: string[]; env: Record<string, string> } {
    const id = this.nats[n]!;
    return {
      args: routerArgs(this.vpc, [...FLEET_FLAGS, ...TIMING]),
      env: simEnv(
        { ec2: this.vpc.ec2Endpoint, imds: this.vpc.imdsEndpoint(id) },
        { AWS_REGION: this.vpc.region },
      ),
    };
  }

  printCommand(): void {
    const { args, env } = this.routerCommand(0);
    const quote = (s: string) => /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
    const envPart = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
    const lines = [
      `env -i ${envPart.join(" ")}`,
      `${quote(Deno.execPath())} ${runArgs(NET, args).map(quote).join(" ")}`,
    ];
    this.screen.line(`Each router runs (${this.nats[0]}'s, with its own metadata endpoint):`);
    this.screen.line("  " + lines.join(" \\\n    "));
    this.screen.line();
  }

  startRouters(): void {
    const processes = startFleet(this.vpc, TIMING);
    processes.forEach((process, n) => {
      // startFleet's args and env are those of routerCommand(n); check the name to be sure.
      assert.equal(process.name, `router-${n + 1}`);
      this.routers.push(view(process.name, this.nats[n]!, process));
    });
  }

  /** Starts a router again on the NAT instance of a killed one, as startFleet does. */
  restart(old: RouterView): RouterView {
    const n = this.nats.indexOf(old.natId);
    const process = startRouter({ name: old.name, ...this.routerCommand(n) });
    const fresh = view(old.name, old.natId, process);
    this.routers[this.routers.indexOf(old)] = fresh;
    return fresh;
  }

  /** The leader the running routers agree on, if they all have one and agree. */
  agreedLeader(): string | undefined {
    const running = this.routers.filter(isRunning);
    const leaders = new Set(running.map((r) => r.leader));
    if (running.length === 0 || running.some((r) => r.role === undefined) || leaders.size !== 1) {
      return undefined;
    }
    return [...leaders][0];
  }

  // --- the poll loop ---

  tick(): void {
    for (const router of this.routers) this.#readLines(router);
    this.#readWrites();
    this.screen.table(this.frame(), this.#status);
  }

  #readLines(router: RouterView): void {
    const lines = router.process.lines;
    while (router.read < lines.length) {
      const line = lines[router.read++]!;
      if (this.options.verbose) this.screen.line(`    [${router.name}] ${line}`);
      const { event, fields } = logFields(line);
      if (event === "health.changed" && fields.instance_id !== undefined) {
        router.health.set(fields.instance_id, {
          healthy: fields.healthy === "true",
          error: fields.error ?? "-",
        });
      } else if (event === "leader.changed") {
        const leader = fields.leader === "-" ? undefined : fields.leader;
        this.screen.line(
          `  ${this.stamp()} ${router.name} on ${router.natId}: leader.changed leader=${
            fields.leader ?? "-"
          } role=${fields.role ?? "-"}`,
        );
        router.leader = leader;
        router.role = fields.role;
      } else if (event === "route.created" || event === "route.replaced") {
        this.#writesBy.set(router.name, (this.#writesBy.get(router.name) ?? 0) + 1);
      }
    }
  }

  #readWrites(): void {
    const writes = this.vpc.ec2.routeWrites;
    while (this.#writesSeen < writes.length) {
      const write = writes[this.#writesSeen++]!;
      const from = this.#knownTargets.get(write.routeTableId);
      const to = write.instanceId ?? write.networkInterfaceId;
      this.#knownTargets.set(write.routeTableId, to);
      const zone = this.vpc.ec2.routeTable(write.routeTableId)?.tags["aws-nat-router/zone"] ?? "-";
      this.screen.line(
        `  ${this.stamp()} ${write.action} ${write.routeTableId} (${zone}): ${
          from ? this.short(from) : "no route"
        } → ${this.short(to)}`,
      );
    }
  }

  async sleep(ms: number): Promise<void> {
    if (this.interrupt.signal.aborted) throw new Interrupted("Interrupted");
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Ticks until `check()` holds; throws `StepTimeout` after `timeoutMs`. */
  async until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    const started = performance.now();
    for (;;) {
      this.tick();
      if (check()) return;
      const waited = performance.now() - started;
      if (waited > timeoutMs) {
        throw new StepTimeout(
          `${this.#step} did not converge within ${timeoutMs / 1000}s: waiting until ${what}`,
        );
      }
      this.#status = `  … waiting until ${what} (${(waited / 1000).toFixed(1)}s)`;
      await this.sleep(TICK_MS);
    }
  }

  async hold(ms: number, status: string): Promise<void> {
    const started = performance.now();
    while (performance.now() - started < ms) {
      this.#status = `  … ${status}`;
      this.tick();
      await this.sleep(TICK_MS);
    }
    this.#status = "";
    this.tick();
  }

  // --- the table ---

  frame(): string {
    const { ec2, fleet } = this.vpc;
    const out: string[] = [];
    const tables = fleet.routeTableIds.map((id) => {
      const target = ec2.defaultRouteTarget(id);
      const zone = ec2.routeTable(id)?.tags["aws-nat-router/zone"] ?? "-";
      const nat = target === undefined
        ? "(no default route)"
        : this.nats.includes(target)
        ? `${target} (${this.zoneOf(target)})${this.zoneOf(target) === zone ? "" : "  cross-zone"}`
        : target;
      return [id, zone, nat];
    });
    out.push("  Route tables (default route 0.0.0.0/0)");
    out.push(...columns([["ROUTE TABLE", "ZONE", "→ NAT INSTANCE (ITS ZONE)"], ...tables], "    "));
    out.push(
      ...columns([
        [
          fleet.untaggedRouteTableId,
          "untagged",
          `→ ${ec2.defaultRouteTarget(fleet.untaggedRouteTableId)}`,
        ],
        [
          fleet.foreignRouteTableId,
          "other VPC",
          `→ ${ec2.defaultRouteTarget(fleet.foreignRouteTableId)}`,
        ],
      ], "    "),
    );
    const leader = this.agreedLeader();
    const claims = this.routers.filter(isRunning).map((r) => `${r.name}: ${r.leader ?? "?"}`);
    out.push(
      "",
      `  NAT instances — leader: ${
        leader ? `${leader} (all running routers agree)` : `not agreed (${claims.join(", ")})`
      }`,
    );
    const rows = this.nats.map((id) => {
      const mode = this.vpc.nat(id).mode;
      const carried = fleet.routeTableIds.filter((t) => ec2.defaultRouteTarget(t) === id).length;
      const verdicts = this.routers.filter(isRunning).map((r) => r.health.get(id)).filter((v) =>
        v !== undefined
      );
      const up = verdicts.filter((v) => v.healthy).length;
      const down = verdicts.filter((v) => !v.healthy);
      const errors = [...new Set(down.map((v) => v.error))].join(",");
      const said = verdicts.length === 0 ? "no verdict yet" : [
        up > 0 ? `healthy ${up}/${verdicts.length}` : "",
        down.length > 0 ? `UNHEALTHY ${down.length}/${verdicts.length} (${errors})` : "",
      ].filter(Boolean).join(", ");
      const router = this.routers.find((r) => r.natId === id);
      const process = !router
        ? "-"
        : router.killed
        ? `${router.name} KILLED`
        : router.exitCode !== undefined
        ? `${router.name} exited ${router.exitCode}`
        : `${router.name} ${router.role ?? "starting"}`;
      return [id, this.zoneOf(id), mode, said, String(carried), process];
    });
    out.push(
      ...columns(
        [["NAT INSTANCE", "ZONE", "LISTENER", "ROUTERS SAY", "TABLES", "ROUTER PROCESS"], ...rows],
        "    ",
      ),
    );
    return out.join("\n");
  }

  // --- convergence ---

  /** Tables on `healthy` NATs, same zone first, loads within one; routers agree on a healthy leader. */
  settled(healthy: readonly string[]): boolean {
    if (misrouting(this.vpc, healthy) !== undefined) return false;
    const loads = healthy.map((id) =>
      this.vpc.fleet.routeTableIds.filter((t) => this.vpc.ec2.defaultRouteTarget(t) === id).length
    );
    if (Math.max(...loads) - Math.min(...loads) > 1) return false;
    const leader = this.agreedLeader();
    return leader !== undefined && healthy.includes(leader);
  }

  async step(spec: {
    n: number;
    title: string;
    what: string;
    /** What happens at t=0, e.g. "i-… went silent". */
    since: string;
    /** Done before t=0 (not timed). */
    prepare?: () => Promise<void>;
    /** Starts at t=0, the time every move of the step is measured from. */
    fault: () => Promise<void>;
    healthy: () => readonly string[];
    expect?: string;
  }): Promise<void> {
    this.screen.flush();
    this.screen.line();
    this.screen.line(`━━ Step ${spec.n}: ${spec.title}`);
    this.#step = `Step ${spec.n} (${spec.title.split(" — ")[0]})`;
    const before = new Map(
      this.vpc.fleet.routeTableIds.map((t) => [t, this.vpc.ec2.defaultRouteTarget(t)]),
    );
    const firstWrite = this.vpc.ec2.routeWrites.length;
    this.#origin = Date.now();
    await spec.prepare?.();
    const origin = Date.now();
    this.#origin = origin;
    this.screen.line(`  ${this.stamp()} t=0: ${spec.since}`);
    await spec.fault();
    const healthy = spec.healthy();
    this.screen.line(`  ${this.stamp()} done; healthy NATs now: ${healthy.join(", ")}`);
    await this.until(
      spec.what,
      () => this.settled(healthy),
      spec.n === 1 ? FIRST_STEP_TIMEOUT_MS : STEP_TIMEOUT_MS,
    );
    const writes = this.vpc.ec2.routeWrites.slice(firstWrite);
    const ms = writes.length > 0
      ? Math.max(...writes.map((w) => w.time)) - origin
      : Date.now() - origin;
    const moved = [...before].filter(([t, target]) => this.vpc.ec2.defaultRouteTarget(t) !== target)
      .length;
    const converged = this.vpc.ec2.routeWrites.length;
    this.screen.line(
      `  ✓ converged: ${moved} route table${moved === 1 ? "" : "s"} re-pointed, the last at t=${
        seconds(ms)
      } (${writes.length} route writes)${spec.expect ? `; expected ${spec.expect}` : ""}`,
    );
    await this.hold(HOLD_MS, `watching for ${HOLD_MS / 1000}s that nothing moves again`);
    const extraWrites = this.vpc.ec2.routeWrites.length - converged;
    if (extraWrites > 0) {
      this.screen.line(`  ! ${extraWrites} more route writes after convergence (flapping?)`);
    }
    this.screen.flush();
    this.results.push({
      n: spec.n,
      title: spec.title,
      ms,
      writes: writes.length + extraWrites,
      moved,
      extraWrites,
    });
  }

  // --- the scenario ---

  /** NATs whose listener is not `up`, and routers killed. */
  readonly faulty = new Set<string>();

  healthyNats(): string[] {
    return this.nats.filter((id) => !this.faulty.has(id));
  }

  async run(): Promise<void> {
    const steps: readonly number[] = SCENARIOS[this.options.scenario];
    const [a1, a2, b1] = this.nats as [string, string, string];
    this.screen.line(
      `Simulated VPC ${this.vpc.vpcId} (cluster ${this.vpc.fleet.clusterId}), EC2 endpoint ${this.vpc.ec2Endpoint}`,
    );
    for (const zone of this.vpc.fleet.zones) {
      const nats = this.vpc.fleet.natsByZone[zone] ?? [];
      this.screen.line(
        `  ${zone}: ${nats.length} NAT instance${nats.length === 1 ? "" : "s"}${
          nats.length ? ` (${nats.join(", ")})` : ""
        }, route tables ${(this.vpc.fleet.tablesByZone[zone] ?? []).join(", ")}`,
      );
    }
    this.screen.line(
      `  launched oldest first: ${a1}, ${a2}, ${b1} — the oldest healthy NAT leads`,
    );
    this.screen.line();
    this.printCommand();

    await this.step({
      n: 1,
      title: "initial allocation — 3 routers start; the leader points every tagged table",
      what:
        "every tagged table is on a NAT of its zone (else the least loaded) and a leader is agreed",
      since: "the routers start",
      fault: () => Promise.resolve(this.startRouters()),
      healthy: () => this.healthyNats(),
    });

    if (steps.includes(2)) {
      await this.step({
        n: 2,
        title: `failover — ${b1}, the only NAT in ${
          this.zoneOf(b1)
        }, goes silent (connects time out)`,
        what: `${b1}'s tables are on healthy NATs`,
        since: `${b1} goes silent`,
        fault: async () => {
          this.faulty.add(b1);
          await this.vpc.nat(b1).setMode("silent");
        },
        healthy: () => this.healthyNats(),
        expect:
          "≈ 1–2 s (fall 2: the next probe within 1 s and one 0.5 s later time out after 0.5 s)",
      });
    }

    if (steps.includes(3)) {
      const leader = this.agreedLeader() ?? a1;
      const router = this.routers.find((r) => r.natId === leader && isRunning(r));
      assert.ok(router, `no running router on the leader ${leader}`);
      await this.step({
        n: 3,
        title:
          `takeover — the leader ${leader}: ${router.name} is SIGKILLed and its listener goes silent`,
        what: `a follower leads and ${leader}'s tables are on healthy NATs`,
        since: `${router.name} is killed and ${leader} goes silent`,
        fault: async () => {
          this.faulty.add(leader);
          router.killed = true;
          await Promise.all([router.process.kill(), this.vpc.nat(leader).setMode("silent")]);
        },
        healthy: () => this.healthyNats(),
        expect: "≈ 1–2 s (the followers' own fall 2, then the new leader writes)",
      });
    }

    if (steps.includes(4)) {
      const back = [...this.faulty];
      const killed = this.routers.filter((r) => r.killed);
      await this.step({
        n: 4,
        title: `failback — ${back.join(" and ")} come back${
          killed.length ? ` (${killed.map((r) => r.name).join(", ")} restarted first)` : ""
        }`,
        what: "the tables are back on their zone's NATs, evenly spread",
        since: `${back.join(" and ")} come back up`,
        prepare: async () => {
          // As on a rebooted NAT instance, where systemd starts the router before squid: the
          // restarted router sees its own NAT down, follows, then watches it recover.
          const restarted = killed.map((r) => this.restart(r));
          if (restarted.length > 0) {
            this.screen.line(
              `  ${this.stamp()} restarted ${
                restarted.map((r) => r.name).join(", ")
              } while the NATs are still down`,
            );
            await this.until(
              `${restarted.map((r) => r.name).join(", ")} logged leader.changed`,
              () => restarted.every((r) => r.role !== undefined),
              STEP_TIMEOUT_MS,
            );
          }
        },
        fault: async () => {
          await Promise.all(back.map((id) => this.vpc.nat(id).setMode("up")));
          this.faulty.clear();
        },
        healthy: () => this.healthyNats(),
        expect: `≈ ${FAILBACK_DELAY_S + 0.5}–${
          FAILBACK_DELAY_S + 1.5
        } s (rise 2: the next probe within 1 s and one 0.5 s later pass; then failback-delay ${FAILBACK_DELAY_S} s)`,
      });
    }
  }

  summary(initial: Ec2Snapshot): boolean {
    const { fleet, ec2 } = this.vpc;
    let ok = true;
    this.#status = "";
    this.tick();
    this.screen.flush();
    this.screen.release();
    this.screen.line();
    this.screen.line("━━ Summary");
    this.screen.line(
      columns([
        ["STEP", "TIME", "ROUTE WRITES", "TABLES MOVED"],
        ...this.results.map((r) => [
          `${r.n} ${r.title.split(" — ")[0]}`,
          seconds(r.ms),
          String(r.writes),
          String(r.moved),
        ]),
      ]).join("\n"),
    );
    const flapping = this.results.reduce((n, r) => n + r.extraWrites, 0);
    this.screen.line(
      `  total route writes: ${ec2.routeWrites.length}; writes after a step had converged: ${flapping}`,
    );
    const writers = this.routers.map((r) => `${r.name} ${this.#writesBy.get(r.name) ?? 0}`);
    this.screen.line(`  route writes logged by each router: ${writers.join(", ")}`);
    for (
      const [label, id] of [
        ["untagged main table", fleet.untaggedRouteTableId],
        ["foreign-VPC table", fleet.foreignRouteTableId],
      ] as const
    ) {
      const was = initial.routeTables.find((t) => t.routeTableId === id);
      const now = ec2.snapshot().routeTables.find((t) => t.routeTableId === id);
      const calls = this.vpc.ec2Server.calls.filter((c) => c.params.RouteTableId === id).length;
      const same = JSON.stringify(was) === JSON.stringify(now) && calls === 0;
      ok &&= same;
      this.screen.line(
        `  ${label} ${id}: ${
          same
            ? `untouched ✓ (default route → ${ec2.defaultRouteTarget(id)}, no API call on it)`
            : `CHANGED ✗ (${calls} API calls on it)`
        }`,
      );
    }
    try {
      assertOnlyOwnRoutesChanged(initial, ec2.snapshot(), fleet.vpcId, fleet.clusterId);
      this.screen.line("  nothing but the tagged tables' default routes changed ✓");
    } catch (error) {
      ok = false;
      this.screen.line(`  something outside the router's remit changed ✗: ${String(error)}`);
    }
    return ok;
  }

  async keepRunning(): Promise<void> {
    this.screen.line();
    this.screen.line("Fleet still running (--keep-running); press Ctrl-C to stop.");
    if (!this.screen.live) this.screen.line("(the table is printed again whenever it changes)");
    while (!this.interrupt.signal.aborted) {
      this.#status = "  … running; Ctrl-C to stop";
      this.tick();
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    this.#status = "";
    this.tick();
    this.screen.flush();
  }

  /** Stops every running router with SIGTERM; true when each exited 0. */
  async stop(): Promise<boolean> {
    for (const router of this.routers) {
      if (router.killed) await router.process.exited;
    }
    const running = this.routers.filter((r) => !r.killed);
    try {
      await stopAll(running.map((r) => r.process));
      this.screen.line(
        `  routers stopped with SIGTERM: ${running.map((r) => r.name).join(", ")} exited 0 ✓`,
      );
      return true;
    } catch (error) {
      this.screen.line(`  a router did not exit cleanly ✗: ${String(error)}`);
      return false;
    }
  }
}

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    console.error("Run with --help for the flags");
    return 2;
  }
  if (options === "help") {
    console.log(HELP);
    return 0;
  }

  const screen = new Screen(Deno.stdout.isTerminal());
  const vpc = await SimVpc.standard();
  const demo = new Demo(vpc, options, screen);
  const onSignal = () => demo.interrupt.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 0;
  try {
    const initial = vpc.ec2.snapshot();
    await demo.run();
    if (!demo.summary(initial)) code = 1;
    if (options.keepRunning) await demo.keepRunning();
  } catch (error) {
    demo.tick();
    screen.flush();
    if (error instanceof Interrupted) {
      screen.line("\nInterrupted; cleaning up");
      code = 130;
    } else if (error instanceof StepTimeout) {
      screen.line(`\n✗ ${error.message}`);
      screen.line("  (run with --verbose to see the routers' log lines)");
      code = 1;
    } else {
      screen.line(`\n✗ Demo failed: ${error instanceof Error ? error.stack : String(error)}`);
      code = 1;
    }
  } finally {
    screen.release();
    if (!await demo.stop()) code ||= 1;
    await vpc.close();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  return code;
}

if (import.meta.main) Deno.exitCode = await main();
