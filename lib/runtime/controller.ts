/**
 * @module The controller loop, one per process: discover → decide → apply → remember, one pass
 * per reconcile, never re-entered. Discovery (the two Describe calls) runs every `interval`;
 * each instance is probed on its own loop every `probeInterval` (a probe that disagrees with
 * the verdict is confirmed after half that); a health transition reconciles at once, and so
 * does the decision's `settleAt`. Every decision is the pure `decide()` of `core/decide.ts`;
 * what woke a reconcile is only a log field. Reconciles never overlap: requests made while
 * one runs coalesce into one more.
 */
import type { Clock } from "../adapters/clock.ts";
import type { Ec2, NatGatewayReader } from "../adapters/ec2.ts";
import { toEc2Error } from "../adapters/ec2.ts";
import type { Logger } from "../adapters/log.ts";
import type { Probe } from "../adapters/probe.ts";
import {
  decide,
  type DecideSettings,
  type Decision,
  type Undecided,
  type View,
} from "../core/decide.ts";
import {
  allDecided,
  type HealthOptions,
  needsConfirmation,
  nextBeat,
  observe,
  retain,
} from "../core/health.ts";
import {
  freshMemory,
  type Memory,
  rememberApplied,
  rememberDiscovery,
  rememberFights,
  rememberPending,
  rememberRole,
} from "../core/memory.ts";
import { applyRouteChanges, EMPTY_PLAN, isEmptyPlan, type Plan } from "../core/plan.ts";
import type { NatInstance, ProbeResult, RouteChange, RouteTable, Skipped } from "../model.ts";
import {
  checkFallbackGateways,
  fallbackGatewayIds,
  type GatewayProblem,
  uncoveredTables,
} from "../core/fallback.ts";
import { applyPlan, type ApplyResult } from "./apply.ts";

/** What the controller needs from the configuration. */
export interface ControllerSettings extends DecideSettings {
  readonly vpcId: string;
  readonly clusterId: string;
  readonly intervalMs: number;
  readonly public: boolean;
  readonly dryRun: boolean;
}

export interface ControllerDeps {
  readonly ec2: Ec2 & NatGatewayReader;
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

/** What one reconcile decided and did. */
export interface CycleOutcome {
  readonly acted: boolean;
  readonly leader: string | undefined;
  readonly plan: Plan;
  readonly result: ApplyResult | undefined;
  /** False when the cycle could not decide (no view yet, no verdicts) or a change failed. */
  readonly ok: boolean;
}

/** Fallback gateways are checked on the first discovery and every this many after. */
const GATEWAY_CHECK_EVERY = 6;

/** What woke a reconcile: logged, never an input to the decision. */
type Trigger = "discovery" | "health" | "settle" | "once";

/** What the controller holds now: its view, its memory and its latest decision. */
export interface Snapshot {
  readonly view: View | undefined;
  readonly memory: Memory;
  readonly decision: Decision | undefined;
}

export class Controller {
  #view: View | undefined;
  #memory: Memory = freshMemory();
  /** The latest complete decision (for metrics, `status` and the heartbeat). */
  #decision: Decision | undefined;
  #leader: string | undefined = undefined;
  #leaderLogged = false;
  #readyLogged = false;
  /** Skipped resources already warned about, by source, so each is logged once. */
  #warned = { discovery: new Set<string>(), decision: new Set<string>() };
  #probeLoops = new Map<string, { stop: AbortController; done: Promise<void> }>();
  /** Route tables already warned about as not covered by a fallback gateway. */
  #uncovered = new Set<string>();
  #reconciling: Promise<CycleOutcome> | undefined;
  #again: Trigger | undefined;
  #settleTimer: ReturnType<typeof setTimeout> | undefined;
  #stop = new AbortController();
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
      this.#warnSkipped("discovery", [...instances.skipped, ...routeTables.skipped]);
      const sorted = [...instances.items].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
      const ids = sorted.map((i) => i.instanceId);
      const now = clock.now();
      const remembered = rememberDiscovery(this.#memory, {
        previous: this.#view?.routeTables,
        discovered: routeTables.items,
        instances: sorted,
        health: this.#view?.health ?? new Map(),
        now,
      }, this.settings);
      this.#memory = remembered.memory;
      this.#view = {
        instances: sorted,
        routeTables: remembered.routeTables,
        health: retain(this.#view?.health ?? new Map(), ids),
        generation: (this.#view?.generation ?? 0) + 1,
        explicitSubnets: await this.#explicitSubnets(sorted, routeTables.items),
        gatewayProblems: await this.#checkGateways(this.#view?.generation ?? 0),
      };
      this.#warnUncovered(remembered.routeTables);
      log.debug("discovery.done", {
        instances: sorted.length,
        route_tables: remembered.routeTables.length,
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

  /**
   * When a tagged route table is the VPC's main one: which NAT subnets have a table of their
   * own (the others follow the main table, which must then never point at a NAT). One more
   * Describe, only then; `undefined` (the main table is left alone) when it fails.
   */
  async #explicitSubnets(
    instances: readonly NatInstance[],
    routeTables: readonly { readonly main?: boolean }[],
  ): Promise<Set<string> | undefined> {
    if (!routeTables.some((t) => t.main === true)) return undefined;
    const subnets = [...new Set(instances.flatMap((i) => i.subnetId ? [i.subnetId] : []))];
    try {
      return await this.deps.ec2.explicitlyAssociated(this.settings.vpcId, subnets);
    } catch (error) {
      const e = toEc2Error("DescribeRouteTables", error);
      this.deps.log.warn("main_table.unverified", {
        code: e.code,
        error: e.detail,
        fix: "the main route table is left alone until its NAT subnets can be checked",
      });
      return undefined;
    }
  }

  /**
   * Every `GATEWAY_CHECK_EVERY` discoveries (the first included), with a fallback gateway
   * configured: what is wrong with each gateway now (deleted, no longer available, ...). A
   * change is logged; a failed check keeps what the last one found.
   */
  async #checkGateways(generation: number): Promise<readonly GatewayProblem[] | undefined> {
    const fallback = this.settings.fallbackNatGateway;
    const last = this.#view?.gatewayProblems;
    if (fallback === undefined || generation % GATEWAY_CHECK_EVERY !== 0) return last;
    try {
      const found = await this.deps.ec2.describeNatGateways(fallbackGatewayIds(fallback));
      const problems = checkFallbackGateways(fallback, this.settings.vpcId, found);
      const before = new Set((last ?? []).map((p) => p.natGatewayId));
      for (const problem of problems) {
        if (before.has(problem.natGatewayId)) continue;
        this.deps.log.warn("fallback.unusable", {
          nat_gateway_id: problem.natGatewayId,
          reason: problem.reason,
          detail: problem.detail,
          fix: "no route goes to it; pass an available public NAT gateway of the VPC",
        });
      }
      for (const id of before) {
        if (!problems.some((p) => p.natGatewayId === id)) {
          this.deps.log.info("fallback.usable", { nat_gateway_id: id });
        }
      }
      return problems;
    } catch (error) {
      const e = toEc2Error("DescribeNatGateways", error);
      this.deps.log.warn("fallback.unchecked", { code: e.code, error: e.detail });
      return last;
    }
  }

  /** Warns once about each table that no configured fallback gateway covers. */
  #warnUncovered(routeTables: readonly RouteTable[]): void {
    const fallback = this.settings.fallbackNatGateway;
    if (fallback === undefined) return;
    for (const routeTableId of uncoveredTables(routeTables, fallback)) {
      if (this.#uncovered.has(routeTableId)) continue;
      this.#uncovered.add(routeTableId);
      this.deps.log.warn("fallback.uncovered", {
        route_table_id: routeTableId,
        fix: "map its zone in --fallback-nat-gateway, or give a default gateway",
      });
    }
  }

  /** Logs each skipped resource once (again only after it was fine in between). */
  #warnSkipped(source: "discovery" | "decision", skipped: readonly Skipped[]): void {
    const current = new Set(skipped.map((s) => `${s.resourceId}\u0000${s.reason}`));
    for (const s of skipped) {
      if (!this.#warned[source].has(`${s.resourceId}\u0000${s.reason}`)) {
        this.deps.log.warn("resource.skipped", { resource_id: s.resourceId, reason: s.reason });
      }
    }
    this.#warned[source] = current;
  }

  #address(instance: NatInstance): string | undefined {
    return this.settings.public ? instance.publicIp : instance.privateIp;
  }

  /** Records one probe result; logs and reconciles on a health transition. */
  #record(result: ProbeResult): void {
    const { log, clock } = this.deps;
    if (!this.#view) return;
    const { state, transitions } = observe(
      this.#view.health,
      [result],
      clock.now(),
      this.#healthOptions,
    );
    this.#view = { ...this.#view, health: state };
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
    const instances = (this.#view?.instances ?? []).filter((i) => !only || only(i.instanceId));
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
    const known = new Set((this.#view?.instances ?? []).map((i) => i.instanceId));
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
      const instance = this.#view?.instances.find((i) => i.instanceId === instanceId);
      if (!instance) return;
      const started = clock.now();
      const result = await probe({ instanceId, address: this.#address(instance) });
      if (signal.aborted) return;
      this.#record(result);
      const period = this.#view && needsConfirmation(this.#view.health, instanceId)
        ? this.settings.probeIntervalMs / 2
        : this.settings.probeIntervalMs;
      await clock.sleep(nextBeat(started, period) - clock.now(), signal);
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

  /** The pure decision on the current view and memory; `undefined` before the first view. */
  decide(now: number = this.deps.clock.now()): Decision | Undecided | undefined {
    if (!this.#view) return undefined;
    return decide({
      view: this.#view,
      memory: this.#memory,
      settings: this.settings,
      self: this.deps.self,
      now,
    });
  }

  /** Decides; a node that has just become the one acting reads EC2 once more first. */
  async #decideFresh(): Promise<Decision | undefined> {
    let decision = this.decide();
    if (!decision?.decided) return undefined;
    if (decision.rediscover) {
      this.#memory = rememberPending(this.#memory, decision.pending);
      this.#memory = rememberRole(this.#memory, decision.acting, this.#view!.generation);
      if (await this.discover()) {
        decision = this.decide();
        if (!decision?.decided) return undefined;
      }
    }
    this.#memory = rememberPending(this.#memory, decision.pending);
    this.#memory = rememberRole(this.#memory, decision.acting, this.#view!.generation);
    this.#memory = rememberFights(this.#memory, decision.fights);
    if (decision.succeeding) {
      this.deps.log.warn("succession.acting", {
        leader: decision.leader,
        self: this.deps.self,
        route_tables: decision.plan.routes.map((c) => c.routeTableId).join(","),
        fix: "the leader left these changes unmade: check its router (journalctl -u " +
          "aws-nat-router), its IAM permissions and its path to the EC2 API",
      });
    }
    for (const id of decision.contested) {
      if (this.#decision?.contested.includes(id)) continue;
      this.deps.log.warn("recovery.held", {
        instance_id: id,
        reason: "routed_while_unhealthy",
        detail: "a route table went to this NAT after this router saw it fail: another " +
          "router may see it healthy, so it is not rebooted or terminated",
        fix: "if it lasts, let every NAT instance's security group admit the others on the " +
          "health port",
      });
    }
    for (const fight of decision.fights.noticed) {
      this.deps.log.warn("split.suspected", {
        route_table_id: fight.routeTableId,
        moved_to: fight.movedTo,
        fights: fight.count,
        backoff_s: Math.round((fight.until - fight.at) / 1000),
        fix: "another router sees this NAT healthy and this one does not: let every NAT " +
          "instance's security group admit the others on the health port",
      });
    }
    this.#decision = decision;
    return decision;
  }

  async #reconcileNow(trigger: Trigger): Promise<CycleOutcome> {
    const { log, clock } = this.deps;
    const started = clock.now();
    const idle = (ok: boolean): CycleOutcome => ({
      acted: false,
      leader: this.#leader,
      plan: EMPTY_PLAN,
      result: undefined,
      ok,
    });
    const decision = await this.#decideFresh();
    if (!decision) return idle(false);
    const generation = this.#view?.generation ?? 0; // the view it decided on
    const { instances, routeTables, leader, now } = decision;
    this.#logLeader(leader);
    if (!decision.acting) {
      // A follower looks again when a required change would fall to it (succession).
      this.#scheduleSettle(decision.settleAt);
      this.deps.observer?.cycle?.({ durationMs: clock.now() - started, ok: true, at: clock.now() });
      this.#logReady(decision);
      return idle(true);
    }
    const fallback = this.settings.fallbackNatGateway !== undefined;
    if (decision.noHealthyNat && trigger !== "health") {
      log.error("allocation.no_healthy_nat", {
        route_tables: routeTables.length,
        instances: instances.length,
        fix: fallback
          ? "route tables go to the fallback NAT gateway until a NAT instance is healthy"
          : "routes left as they are until a NAT instance passes its health check",
      });
    }
    if (decision.idle) return idle(trigger !== "once" || fallback);
    this.#warnSkipped("decision", decision.skipped);
    const plan = decision.plan;
    const result = isEmptyPlan(plan) ? undefined : await applyPlan(plan, {
      ec2: this.deps.ec2,
      log,
      dryRun: this.settings.dryRun,
      stop: this.#stop.signal,
      ...(this.deps.observer?.routeChanged
        ? { onRouteChanged: this.deps.observer.routeChanged }
        : {}),
    });
    const failedRoutes = {
      routeTableIds: (result?.failures ?? []).flatMap(({ change }) =>
        "routeTableId" in change ? [change.routeTableId] : []
      ),
      generation,
    };
    const applied = this.settings.dryRun || !result
      ? { routes: [], recoveries: [], sourceDestChecks: plan.sourceDestChecks }
      : {
        routes: result.routes,
        recoveries: result.recoveries,
        sourceDestChecks: plan.sourceDestChecks,
        failedRoutes,
      };
    this.#memory = rememberApplied(this.#memory, applied, now, clock.now());
    if (this.#view && applied.routes.length > 0) {
      this.#view = {
        ...this.#view,
        routeTables: applyRouteChanges(this.#view.routeTables, applied.routes),
      };
    }
    this.#scheduleSettle(decision.settleAt);
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
    if (this.#readyLogged) return;
    this.#readyLogged = true;
    this.deps.log.info("router.ready", {
      leader: decision.leader,
      instances: decision.instances.length,
      route_tables: decision.routeTables.length,
    });
  }

  /** Reconciles again when the first recovering instance leaves its failback hold-down. */
  #scheduleSettle(at: number | undefined): void {
    this.#clearTimers();
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
   * `runOnce` does, decide. `undefined` when EC2 could not be read (logged); `Undecided`
   * when an instance still has no verdict.
   */
  async preview(): Promise<Decision | Undecided | undefined> {
    if (!await this.discover()) return undefined;
    await this.#probeUntilDecided();
    return this.decide();
  }

  /** Probes the instances without a verdict, up to fall/rise rounds `probeInterval` apart. */
  async #probeUntilDecided(): Promise<void> {
    const ids = (this.#view?.instances ?? []).map((i) => i.instanceId);
    const undecided = (id: string) => !allDecided(this.#view?.health ?? new Map(), [id]);
    const rounds = Math.max(this.settings.fall, this.settings.rise);
    for (let round = 0; round < rounds && ids.some(undecided); round++) {
      if (round > 0) await this.deps.clock.sleep(this.settings.probeIntervalMs, this.#stop.signal);
      await this.probeRound(undecided);
    }
  }

  /** Runs until `signal` aborts; then lets the write in flight finish and returns. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.deps;
    const onAbort = () => this.#stop.abort();
    this.#reconcileOnTransition = true;
    this.#memory = freshMemory(clock.now());
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

  /** The view, the memory and the latest decision, for metrics, `status` and tests. */
  snapshot(): Snapshot {
    return { view: this.#view, memory: this.#memory, decision: this.#decision };
  }
}

const EMPTY_OUTCOME: CycleOutcome = {
  acted: false,
  leader: undefined,
  plan: EMPTY_PLAN,
  result: undefined,
  ok: false,
};
