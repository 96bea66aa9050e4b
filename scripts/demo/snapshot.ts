/**
 * @module The demo's vocabulary: what the scenario (`scenario.ts`) hands the screen
 * (`screen.ts`) — a snapshot of the world at one instant, the events that happened, and the
 * measured result of each step. Plain data only. Every time is milliseconds on one clock
 * that starts when the demo starts and never restarts.
 */

/** The router timing the demo runs with, for the explanations on screen. */
export interface DemoTiming {
  /** How often the leader looks at the whole fleet again (`--interval`). */
  readonly intervalMs: number;
  readonly probeIntervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly failbackDelayMs: number;
}

/** What one NAT instance really does, and what the routers believe about it. */
export interface NatView {
  readonly id: string;
  /** A short name for the screen: the zone's letter and its rank in the zone ("a1"). */
  readonly name: string;
  readonly zone: string;
  /** 1 for the NAT launched first: the leader whenever it is healthy. */
  readonly launchRank: number;
  /** The world's own word for what it does now ("up", "silent"). */
  readonly actual: string;
  /** Whether it really forwards now (ground truth, not a router's verdict). */
  readonly forwarding: boolean;
  /** Running routers whose latest verdict calls it healthy / unhealthy. */
  readonly saidHealthy: number;
  readonly saidUnhealthy: number;
  /** Running routers in all (some may have no verdict yet). */
  readonly routers: number;
  /** The distinct errors of the unhealthy verdicts ("timeout"). */
  readonly errors: readonly string[];
  /**
   * When the last of the routers calling it healthy saw it come back from down (clock ms);
   * `undefined` when none of them has seen it down.
   */
  readonly recoveredAtMs: number | undefined;
  /** Tagged route tables whose default route points at it. */
  readonly tables: number;
  /** The router process running on it. */
  readonly router: RouterState | undefined;
}

export interface RouterState {
  readonly name: string;
  readonly state: "starting" | "leader" | "follower" | "killed" | "exited";
  readonly exitCode?: number;
}

/** The last time a tagged table's default route was written. */
export interface RouteMove {
  readonly atMs: number;
  /** The instance or gateway it pointed at before; `undefined` when it had no route. */
  readonly from: string | undefined;
  /** The router's reason (`nat_unhealthy`, `rebalance`, ...), once its log line is read. */
  readonly reason: string | undefined;
}

export interface TableView {
  readonly id: string;
  readonly zone: string | undefined;
  /** The instance or gateway its default route points at; `undefined`: no default route. */
  readonly target: string | undefined;
  readonly lastMove: RouteMove | undefined;
}

/** A route table the router must leave alone. */
export interface OtherTable {
  readonly id: string;
  /** Why it is not the router's ("untagged", "other VPC"). */
  readonly label: string;
  readonly target: string | undefined;
}

export interface StepView {
  readonly n: number;
  /** Steps in this run of the scenario, and this one's position among them. */
  readonly index: number;
  readonly count: number;
  /** "failover", "takeover", ... */
  readonly name: string;
  readonly title: string;
  /** Clock time the step began (its preparation, if any, comes before t=0). */
  readonly startedAtMs: number;
  /** Clock time of t=0 (the fault); `undefined` while the step prepares. */
  readonly faultAtMs: number | undefined;
  /** What the step waits for, and whether it has converged (with the measured time). */
  readonly waitingFor: string;
  readonly convergedMs: number | undefined;
  /** After convergence: watching that nothing moves again. */
  readonly holding: boolean;
}

export interface Snapshot {
  /** Time since the demo started. */
  readonly clockMs: number;
  /** One line naming the world the NATs live in (e.g. "simulated VPC … on loopback"). */
  readonly world: string;
  readonly timing: DemoTiming;
  readonly step: StepView | undefined;
  readonly nats: readonly NatView[];
  readonly tables: readonly TableView[];
  readonly others: readonly OtherTable[];
  /** The leader every running router agrees on; `undefined` while they do not. */
  readonly leader: string | undefined;
  /** Each running router's own idea of the leader, while they disagree. */
  readonly claims: readonly { readonly router: string; readonly leader: string | undefined }[];
  /** The latest events, oldest first. */
  readonly events: readonly DemoEvent[];
  /** A free-form status line ("fleet still running; Ctrl-C to stop"). */
  readonly status: string | undefined;
}

/** Something worth a line in the log, at a time on the demo clock. */
export type DemoEvent =
  | { readonly kind: "step"; readonly atMs: number; readonly step: StepView }
  /** What the scenario does to the world (t=0 of a step, a restart, ...). */
  | { readonly kind: "action"; readonly atMs: number; readonly text: string; readonly t0: boolean }
  | {
    readonly kind: "route";
    readonly atMs: number;
    readonly routeTableId: string;
    readonly zone: string | undefined;
    readonly from: string | undefined;
    readonly to: string | undefined;
    readonly reason: string | undefined;
    /** Whether `from` was really forwarding when the route moved away from it. */
    readonly fromForwarding: boolean;
  }
  | {
    readonly kind: "leader";
    readonly atMs: number;
    readonly leader: string;
    readonly previous: string | undefined;
  }
  | {
    readonly kind: "health";
    readonly atMs: number;
    readonly natId: string;
    readonly healthy: boolean;
    /** How many running routers now say so (all of them). */
    readonly routers: number;
    readonly errors: readonly string[];
  }
  | {
    readonly kind: "converged";
    readonly atMs: number;
    readonly result: StepResult;
  }
  | { readonly kind: "flapping"; readonly atMs: number; readonly extraWrites: number };

/** The measured outcome of one step. */
export interface StepResult {
  readonly n: number;
  readonly name: string;
  /** From the fault (t=0) to the last route write of the move. */
  readonly ms: number;
  readonly writes: number;
  readonly moved: number;
  /** Writes seen while holding after convergence (flapping). */
  readonly extraWrites: number;
  /** What the timing predicts, e.g. "≈ 1–2 s (fall 2: …)". */
  readonly expected: string | undefined;
}

/** Everything the closing summary says. */
export interface Summary {
  readonly results: readonly StepResult[];
  readonly totalWrites: number;
  readonly writesBy: readonly { readonly router: string; readonly writes: number }[];
  readonly remit: readonly {
    readonly label: string;
    readonly id: string;
    readonly untouched: boolean;
    readonly target: string | undefined;
    readonly calls: number;
  }[];
  /** `undefined` when nothing outside the router's remit changed, else what did. */
  readonly outsideRemit: string | undefined;
}
