/**
 * @module The runtime: one controller per process. Discovery (the two Describe calls) runs
 * every `interval`; each instance is probed on its own loop every `probeInterval` (a probe
 * that disagrees with the verdict is confirmed after half that); a health transition
 * reconciles at once. A reconcile reads the view, decides with the pure core (election,
 * allocation, planning) and applies the plan through `apply.ts`. Reconciles never overlap.
 */
import { applyFallback } from "../core/fallback.ts";
import { applyPlan, type ApplyResult, EMPTY_PLAN, isEmptyPlan, type Plan } from "./apply.ts";
import { allocate, holdDown, noteChanges, recentlyChanged } from "../core/allocate.ts";
import type { Clock } from "../adapters/clock.ts";
import type { FallbackNatGateway } from "../core/config.ts";
import type { Ec2 } from "../adapters/ec2.ts";
import { toEc2Error } from "../adapters/ec2.ts";
import { electLeader } from "../core/election.ts";
import {
  allDecided,
  candidates,
  type HealthOptions,
  type HealthState,
  needsConfirmation,
  nextSettleTime,
  observe,
  retain,
} from "../core/health.ts";
import type { Logger } from "../adapters/log.ts";
import type {
  Allocation,
  Candidate,
  NatInstance,
  ProbeResult,
  RecoveryMode,
  RouteChange,
  RouteTable,
  Skipped,
  SourceDestCheckChange,
} from "../model.ts";
import { applyRouteChanges, planRoutes, planSourceDestChecks } from "../core/plan.ts";
import type { Probe } from "../adapters/probe.ts";
import { planRecovery } from "../core/recovery.ts";
import { overlayRecentWrites, type RecentWrite, rememberWrites } from "../core/recent_writes.ts";

/** What the controller needs from the configuration. */
export interface ControllerSettings {
  readonly vpcId: string;
  readonly clusterId: string;
  readonly ec2Election: boolean;
  readonly intervalMs: number;
  readonly probeIntervalMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly failbackDelayMs: number;
  readonly public: boolean;
  readonly dryRun: boolean;
  readonly recovery: RecoveryMode;
  readonly recoveryAfterMs: number;
  readonly fallbackNatGateway: FallbackNatGateway | undefined;
}

export interface ControllerDeps {
  readonly ec2: Ec2;
  readonly probe: Probe;
  readonly log: Logger;
  readonly clock: Clock;
  /** This node's instance id (needed with election; `undefined` acts always). */
  readonly self: string | undefined;
  /** Optional hooks for metrics. */
  readonly observer?: ControllerObserver;
}

/** Hooks the runtime calls as things happen (metrics); all optional. */
export interface ControllerObserver {
  probed?(result: ProbeResult): void;
  healthChanged?(instanceId: string, healthy: boolean): void;
  leaderChanged?(leader: string | undefined): void;
  routeChanged?(change: RouteChange): void;
  cycle?(info: { readonly durationMs: number; readonly ok: boolean; readonly at: number }): void;
}

/** What a reconcile decided, before acting. */
export interface Decision {
  readonly now: number;
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  readonly candidates: readonly Candidate[];
  readonly leader: string | undefined;
  /** Whether this node acts on it (always without election; only the leader with it). */
  readonly acting: boolean;
  readonly allocations: readonly Allocation[];
  readonly plan: Plan;
  readonly skipped: readonly Skipped[];
}

/** What one reconcile decided and did. */
export interface CycleOutcome {
  readonly acted: boolean;
  readonly leader: string | undefined;
  readonly plan: Plan;
  readonly result: ApplyResult | undefined;
  /** False when the cycle could not decide (no view yet, no verdicts) or a change failed. */
  readonly ok: boolean;
}

type Trigger = "discovery" | "health" | "settle" | "once";

export class Controller {
  #instances: readonly NatInstance[] | undefined;
  #routeTables: readonly RouteTable[] | undefined;
  #health: HealthState = new Map();
  #leader: string | undefined = undefined;
  #leaderLogged = false;
  #recentWrites: ReadonlyMap<string, RecentWrite> = new Map();
  #recoveries = new Map<string, number>();
  /** When `run()` started; `undefined` for `--once` and `status`. */
  #startedAt: number | undefined;
  /** Whether the last reconcile found this node acting (to notice becoming leader). */
  #wasActing = false;
  /** When each route table's default route was last seen to change (by anyone). */
  #changedAt = new Map<string, number>();
  #sourceDestChecks = new Map<string, number>();
  #warned = new Set<string>();
  #probeLoops = new Map<string, { stop: AbortController; done: Promise<void> }>();
  #reconciling: Promise<CycleOutcome> | undefined;
  #again: Trigger | undefined;
  #settleTimer: ReturnType<typeof setTimeout> | undefined;
  #stop = new AbortController();
  #firstCycleLogged = false;
  /** Health transitions reconcile at once in the daemon; `--once` reconciles after all verdicts. */
  #reconcileOnTransition = false;

  constructor(readonly settings: ControllerSettings, readonly deps: ControllerDeps) {}

  get #healthOptions(): HealthOptions {
    const { fall, rise, failbackDelayMs } = this.settings;
    return { fall, rise, failbackDelayMs };
  }

  /** Reads instances and route tables; false (logged) when EC2 could not be read. */
  async discover(): Promise<boolean> {
    const { ec2, log, clock } = this.deps;
    const query = { vpcId: this.settings.vpcId, clusterId: this.settings.clusterId };
    try {
      const [instances, routeTables] = await Promise.all([
        ec2.describeInstances(query),
        ec2.describeRouteTables(query),
      ]);
      this.#warnSkipped([...instances.skipped, ...routeTables.skipped]);
      this.#instances = [...instances.items].sort((a, b) =>
        a.instanceId.localeCompare(b.instanceId)
      );
      const now = clock.now();
      const overlaid = overlayRecentWrites(
        routeTables.items,
        this.#recentWrites,
        now,
        2 * this.settings.intervalMs,
      );
      this.#recentWrites = overlaid.recentWrites;
      this.#changedAt = noteChanges(this.#changedAt, this.#routeTables, overlaid.routeTables, now);
      this.#routeTables = overlaid.routeTables;
      this.#health = retain(this.#health, this.#instances.map((i) => i.instanceId));
      log.debug("discovery.done", {
        instances: this.#instances.length,
        route_tables: this.#routeTables.length,
        skipped: instances.skipped.length + routeTables.skipped.length,
        calls: instances.calls + routeTables.calls,
      });
      return true;
    } catch (error) {
      const e = toEc2Error("Describe", error);
      log.error("discovery.failed", { action: e.action, code: e.code, error: e.detail });
      return false;
    }
  }

  /** Logs each skipped resource once (again only after it was fine in between). */
  #warnSkipped(skipped: readonly Skipped[]): void {
    const current = new Set(skipped.map((s) => `${s.resourceId}\u0000${s.reason}`));
    for (const s of skipped) {
      const key = `${s.resourceId}\u0000${s.reason}`;
      if (!this.#warned.has(key)) {
        this.deps.log.warn("resource.skipped", { resource_id: s.resourceId, reason: s.reason });
      }
    }
    this.#warned = current;
  }

  #address(instance: NatInstance): string | undefined {
    return this.settings.public ? instance.publicIp : instance.privateIp;
  }

  /** Records one probe result; logs and reconciles on a health transition. */
  #record(result: ProbeResult): void {
    const { log, clock } = this.deps;
    const { state, transitions } = observe(
      this.#health,
      [result],
      clock.now(),
      this.#healthOptions,
    );
    this.#health = state;
    this.deps.observer?.probed?.(result);
    for (const t of transitions) {
      this.deps.observer?.healthChanged?.(t.instanceId, t.healthy);
      const fields = {
        instance_id: t.instanceId,
        healthy: t.healthy,
        previous: t.previous === undefined ? "unknown" : t.previous,
        error: t.error,
      };
      if (t.healthy || t.previous === undefined) log.info("health.changed", fields);
      else log.warn("health.changed", fields);
    }
    if (transitions.length > 0 && this.#reconcileOnTransition) void this.reconcile("health");
  }

  /** Probes every known instance once, concurrently. */
  async probeRound(only?: (instanceId: string) => boolean): Promise<void> {
    const instances = (this.#instances ?? []).filter((i) => !only || only(i.instanceId));
    await Promise.all(instances.map(async (instance) => {
      this.#record(
        await this.deps.probe({
          instanceId: instance.instanceId,
          address: this.#address(instance),
        }),
      );
    }));
  }

  /** Starts a probe loop for each new instance and stops those of vanished ones. */
  #syncProbeLoops(): void {
    const known = new Set((this.#instances ?? []).map((i) => i.instanceId));
    for (const [id, loop] of this.#probeLoops) {
      if (!known.has(id)) {
        loop.stop.abort();
        this.#probeLoops.delete(id);
      }
    }
    for (const id of known) {
      if (this.#probeLoops.has(id) || this.#stop.signal.aborted) continue;
      const stop = new AbortController();
      this.#probeLoops.set(id, { stop, done: this.#probeLoop(id, stop.signal) });
    }
  }

  async #probeLoop(instanceId: string, signal: AbortSignal): Promise<void> {
    const { clock, probe } = this.deps;
    while (!signal.aborted) {
      const instance = this.#instances?.find((i) => i.instanceId === instanceId);
      if (!instance) return;
      const started = clock.now();
      const result = await probe({ instanceId, address: this.#address(instance) });
      if (signal.aborted) return;
      this.#record(result);
      const period = needsConfirmation(this.#health, instanceId)
        ? this.settings.probeIntervalMs / 2
        : this.settings.probeIntervalMs;
      await clock.sleep(started + period - clock.now(), signal);
    }
  }

  /** Requests a reconcile; concurrent requests coalesce into one more run. */
  reconcile(trigger: Trigger): Promise<CycleOutcome> {
    if (this.#reconciling) {
      this.#again = this.#again === "discovery" ? "discovery" : trigger;
      return this.#reconciling;
    }
    this.#reconciling = (async () => {
      let outcome = await this.#reconcileNow(trigger);
      while (this.#again && !this.#stop.signal.aborted) {
        const next = this.#again;
        this.#again = undefined;
        outcome = await this.#reconcileNow(next);
      }
      this.#reconciling = undefined;
      return outcome;
    })();
    return this.#reconciling;
  }

  #logLeader(leader: string | undefined): void {
    if (this.#leaderLogged && leader === this.#leader) return;
    this.#leader = leader;
    this.#leaderLogged = true;
    this.deps.observer?.leaderChanged?.(leader);
    const self = this.deps.self;
    this.deps.log.info("leader.changed", {
      leader,
      self: self,
      role: !this.settings.ec2Election ? "acting" : leader === self ? "leader" : "follower",
    });
  }

  /**
   * Everything a reconcile decides from the current view, without side effects (also what
   * `status` prints). `undefined` until there is a view and every instance has a verdict.
   */
  decide(now: number = this.deps.clock.now()): Decision | undefined {
    const instances = this.#instances;
    const routeTables = this.#routeTables;
    if (!instances || !routeTables) return undefined;
    if (!allDecided(this.#health, instances.map((i) => i.instanceId))) return undefined;
    const { self } = this.deps;
    const offered = candidates(this.#health, instances, now, this.#healthOptions);
    const healthyIds = new Set(offered.map((c) => c.instanceId));
    const leader = electLeader(instances.filter((i) => healthyIds.has(i.instanceId)));
    // With no healthy NAT there is no leader; every router then applies the fallback (all
    // decide the same target, so their writes agree).
    const acting = !this.settings.ec2Election || (self !== undefined && leader === self) ||
      (leader === undefined && this.settings.fallbackNatGateway !== undefined);
    // Just started (daemon only): no history yet, so only moves that restore service, for
    // one failback delay, like a NAT that has just come back.
    const starting = this.#startedAt !== undefined &&
      now - this.#startedAt < this.settings.failbackDelayMs;
    const held = starting
      ? new Set(routeTables.map((t) => t.routeTableId))
      : recentlyChanged(this.#changedAt, now, this.settings.failbackDelayMs);
    const fallback = applyFallback(
      routeTables,
      holdDown(allocate(routeTables, offered, { instances }), routeTables, held),
      offered.some((c) => !c.recovering),
      this.settings.fallbackNatGateway,
    );
    const allocations = fallback.allocations;
    const routes = planRoutes(routeTables, allocations, instances);
    const plan: Plan = {
      routes: [...routes.changes, ...fallback.gatewayChanges],
      sourceDestChecks: planSourceDestChecks(instances),
      recoveries: this.settings.recovery === "off" ? [] : planRecovery({
        health: this.#health,
        instances,
        self,
        mode: this.settings.recovery,
        afterMs: this.settings.recoveryAfterMs,
        now,
        lastActions: this.#recoveries,
      }),
    };
    return {
      now,
      instances,
      routeTables,
      health: this.#health,
      candidates: offered,
      leader,
      acting,
      allocations,
      plan,
      skipped: routes.skipped,
    };
  }

  async #reconcileNow(trigger: Trigger): Promise<CycleOutcome> {
    const { log, clock } = this.deps;
    const started = clock.now();
    const decision = this.decide(started);
    const idle = (ok: boolean): CycleOutcome => ({
      acted: false,
      leader: this.#leader,
      plan: EMPTY_PLAN,
      result: undefined,
      ok,
    });
    if (!decision) return idle(false);
    const becameLeader = decision.acting && !this.#wasActing && this.settings.ec2Election &&
      trigger !== "discovery" && trigger !== "once";
    this.#wasActing = decision.acting;
    // Our own writes are trusted over stale reads only while we are the writer: once
    // another node may write, EC2's answer stands (else a takeover waits for the window).
    if (!decision.acting) this.#recentWrites = new Map();
    if (becameLeader) {
      this.#recentWrites = new Map();
      // Our view of the routes may be an interval old: the previous leader wrote since.
      if (await this.discover()) return await this.#reconcileNow("discovery");
    }
    const { instances, routeTables, leader, now } = decision;
    this.#logLeader(leader);
    if (!decision.acting) {
      this.deps.observer?.cycle?.({ durationMs: clock.now() - started, ok: true, at: clock.now() });
      this.#logReady(decision);
      return idle(true);
    }
    if (decision.candidates.length === 0) {
      const fallback = this.settings.fallbackNatGateway !== undefined;
      if (trigger !== "health") {
        log.error("allocation.no_healthy_nat", {
          route_tables: routeTables.length,
          instances: instances.length,
          fix: fallback
            ? "route tables go to the fallback NAT gateway until a NAT instance is healthy"
            : "routes left as they are until a NAT instance passes its health check",
        });
      }
      if (decision.plan.routes.length === 0) return idle(trigger !== "once" || fallback);
    }
    this.#warnSkipped(decision.skipped);
    const plan: Plan = {
      ...decision.plan,
      sourceDestChecks: this.#notRecentlyIssued(decision.plan.sourceDestChecks, now),
    };
    const result = isEmptyPlan(plan) ? undefined : await applyPlan(plan, {
      ec2: this.deps.ec2,
      log,
      dryRun: this.settings.dryRun,
      stop: this.#stop.signal,
      ...(this.deps.observer?.routeChanged
        ? { onRouteChanged: this.deps.observer.routeChanged }
        : {}),
    });
    if (result && !this.settings.dryRun) {
      this.#routeTables = applyRouteChanges(this.#routeTables ?? routeTables, result.routes);
      this.#recentWrites = rememberWrites(this.#recentWrites, result.routes, clock.now());
      for (const change of result.routes) this.#changedAt.set(change.routeTableId, now);
      for (const change of result.recoveries) this.#recoveries.set(change.instanceId, now);
    }
    this.#scheduleSettle();
    const ok = (result?.failures.length ?? 0) === 0;
    const durationMs = clock.now() - started;
    log.debug("cycle.done", {
      trigger,
      leader,
      route_tables: routeTables.length,
      healthy: decision.candidates.length,
      changes: result ? result.routes.length : 0,
      failures: result ? result.failures.length : 0,
      duration_ms: durationMs,
    });
    this.deps.observer?.cycle?.({ durationMs, ok, at: clock.now() });
    this.#logReady(decision);
    return { acted: true, leader, plan, result, ok };
  }

  /** Logs `router.ready` once, after the first completed cycle (leader or follower). */
  #logReady(decision: Decision): void {
    if (this.#firstCycleLogged) return;
    this.#firstCycleLogged = true;
    this.deps.log.info("router.ready", {
      leader: decision.leader,
      instances: decision.instances.length,
      route_tables: decision.routeTables.length,
    });
  }

  /** Source/dest check changes not issued within two intervals (EC2 is eventually consistent). */
  #notRecentlyIssued(
    changes: readonly SourceDestCheckChange[],
    now: number,
  ): SourceDestCheckChange[] {
    return changes.filter((change) => {
      const key = `${change.instanceId}/${change.networkInterfaceId ?? ""}`;
      const last = this.#sourceDestChecks.get(key);
      if (last !== undefined && now - last < 2 * this.settings.intervalMs) return false;
      this.#sourceDestChecks.set(key, now);
      return true;
    });
  }

  /** Reconciles again when the first recovering instance leaves its failback hold-down. */
  #scheduleSettle(): void {
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    const at = nextSettleTime(this.#health, this.deps.clock.now(), this.#healthOptions);
    if (at === undefined || this.#stop.signal.aborted) return;
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      void this.reconcile("settle");
    }, Math.max(0, at - this.deps.clock.now()) + 1);
  }

  /**
   * One complete cycle with no history (`--once`): discover, probe each instance up to
   * fall/rise times `probeInterval` apart until every one has a verdict, then reconcile.
   */
  async runOnce(): Promise<CycleOutcome> {
    if (!await this.discover()) return { ...EMPTY_OUTCOME };
    await this.#probeUntilDecided();
    const outcome = await this.reconcile("once");
    this.#clearTimers();
    return outcome;
  }

  /**
   * What a cycle would see and decide now, without acting (`status`): discover, probe as
   * `runOnce` does, decide. `undefined` when EC2 could not be read (logged) or an instance
   * still has no verdict.
   */
  async preview(): Promise<Decision | undefined> {
    if (!await this.discover()) return undefined;
    await this.#probeUntilDecided();
    return this.decide();
  }

  /** Probes the instances without a verdict, up to fall/rise rounds `probeInterval` apart. */
  async #probeUntilDecided(): Promise<void> {
    const ids = (this.#instances ?? []).map((i) => i.instanceId);
    const rounds = Math.max(this.settings.fall, this.settings.rise);
    for (let round = 0; round < rounds && !allDecided(this.#health, ids); round++) {
      if (round > 0) await this.deps.clock.sleep(this.settings.probeIntervalMs, this.#stop.signal);
      await this.probeRound((id) => !allDecided(this.#health, [id]));
    }
  }

  /** Runs until `signal` aborts; then lets the write in flight finish and returns. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.deps;
    const onAbort = () => this.#stop.abort();
    this.#reconcileOnTransition = true;
    this.#startedAt = clock.now();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let backoff = Math.min(1000, this.settings.intervalMs);
      while (!signal.aborted) {
        const started = clock.now();
        const ok = await this.discover();
        if (signal.aborted) break;
        if (ok) {
          this.#syncProbeLoops();
          await this.reconcile("discovery");
          backoff = Math.min(1000, this.settings.intervalMs);
          await clock.sleep(started + this.settings.intervalMs - clock.now(), signal);
        } else {
          await clock.sleep(backoff, signal); // retry sooner while EC2 is unreachable
          backoff = Math.min(backoff * 2, this.settings.intervalMs);
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#stop.abort();
      const loops = [...this.#probeLoops.values()];
      for (const loop of loops) loop.stop.abort();
      this.#probeLoops.clear();
      await Promise.all(loops.map((loop) => loop.done));
      this.#clearTimers();
      await this.#reconciling;
    }
  }

  #clearTimers(): void {
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
  }

  /** The current view, for `status` and tests. */
  view(): {
    instances: readonly NatInstance[];
    routeTables: readonly RouteTable[];
    health: HealthState;
    leader: string | undefined;
  } {
    return {
      instances: this.#instances ?? [],
      routeTables: this.#routeTables ?? [],
      health: this.#health,
      leader: this.#leader,
    };
  }
}

const EMPTY_OUTCOME: CycleOutcome = {
  acted: false,
  leader: undefined,
  plan: EMPTY_PLAN,
  result: undefined,
  ok: false,
};
