/**
 * @module The self-check at run time (`--self-check`, `--serve-health`): every probe period,
 * read the kernel's IP forwarding switch, connect to the `--egress-check` target, and take
 * this instance's source/destination check from EC2 (described at most once per discovery
 * interval, in the background, to spare the API); judge with `self_check.ts`, and open or
 * close the health port (`health_server.ts`) on the verdict, so peers probing it fail this
 * NAT over while it cannot forward. Without `--self-check` the port is simply kept open.
 * Logs `self_check.failed` / `self_check.passed` on transitions only.
 */
import type { Clock } from "../adapters/clock.ts";
import type { Config } from "../core/config.ts";
import { formatHostPort, type HostPort } from "../core/parse.ts";
import { type Ec2, toEc2Error } from "../adapters/ec2.ts";
import { planSourceDestChecks } from "../core/plan.ts";
import type { NatInstance } from "../model.ts";
import { createHealthServer, type HealthServer } from "../adapters/health_server.ts";
import type { Logger } from "../adapters/log.ts";
import { createTcpProbe } from "../adapters/probe.ts";
import {
  type EgressOutcome,
  INITIAL_SELF_CHECK_STATE,
  judge,
  observeSelfCheck,
  type ReadOutcome,
  type SelfCheckFindings,
  type SelfCheckState,
  type SelfCheckThresholds,
  type SelfDescription,
} from "../core/self_check.ts";

/** A TCP check of `target` (staggered `attempts` within `timeoutMs`); failure is a value. */
export type Connect = (
  target: HostPort,
  timeoutMs: number,
  attempts?: number,
) => Promise<{ readonly healthy: boolean; readonly error: string | undefined }>;

/** The real connect: a TCP probe (`probe.ts`, the only caller of `Deno.connect`). */
export function tcpConnect(
  target: HostPort,
  timeoutMs: number,
  attempts = 1,
): ReturnType<Connect> {
  return createTcpProbe({ port: target.port, timeoutMs, attempts })({
    instanceId: "egress",
    address: target.hostname,
  });
}

export interface SelfCheckSettings {
  /** This instance, from the metadata service; `undefined`: its source/dest check is unknown. */
  readonly instanceId: string | undefined;
  readonly vpcId: string;
  readonly clusterId: string;
  readonly ipForwardPath: string;
  readonly egress: HostPort | undefined;
  /** Egress connect timeout (`--timeout`). */
  readonly timeoutMs: number;
  /** Staggered egress connects per check (`--probe-attempts`; default 1). */
  readonly attempts?: number;
  /** How often EC2 is asked for this instance's source/dest check (`--interval`). */
  readonly describeIntervalMs: number;
  /** `--dry-run`: a source/dest check found on is reported, not turned off. */
  readonly dryRun: boolean;
}

export interface SelfCheckDeps {
  readonly ec2: Pick<Ec2, "describeInstances" | "disableSourceDestCheck">;
  readonly log: Logger;
  readonly readTextFile: (path: string) => Promise<string>;
  /** Default: `tcpConnect`. */
  readonly connect?: Connect;
  readonly clock: Clock;
}

function message(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] || error.name;
  return String(error);
}

/**
 * One self-check round at a time; keeps the last EC2 description between rounds. A source/dest
 * check found on is a condition this node fixes itself (EC2 launches every instance with it
 * on, Auto Scaling groups included, and a fleet whose health ports all stay closed would elect
 * nobody to fix it): it turns it off and judges only what it could not fix.
 */
export class SelfCheck {
  #self: SelfDescription = { known: false, error: "not described yet" };
  #describedAt: number | undefined;
  #describing: Promise<void> | undefined;
  /** Whether a describe has finished (until then, rounds wait for it). */
  #described = false;

  constructor(readonly settings: SelfCheckSettings, readonly deps: SelfCheckDeps) {}

  /**
   * Everything one round finds. Only the first round waits for EC2; later rounds use the
   * last description and refresh it in the background once per `describeIntervalMs`.
   */
  async check(): Promise<SelfCheckFindings> {
    const now = this.deps.clock.now();
    const due = this.#describedAt === undefined ||
      now - this.#describedAt >= this.settings.describeIntervalMs;
    if (due && this.#describing === undefined) {
      this.#describedAt = now;
      this.#describing = this.#describe().finally(() => {
        this.#described = true;
        this.#describing = undefined;
      });
    }
    const [ipForward, egress] = await Promise.all([
      this.#readIpForward(),
      this.#connectEgress(),
      this.#described ? undefined : this.#describing,
    ]);
    return { ipForward, self: this.#self, egress };
  }

  /** Waits for a describe still in flight (before the EC2 client is destroyed). */
  async settle(): Promise<void> {
    await this.#describing;
  }

  async #readIpForward(): Promise<ReadOutcome> {
    try {
      return { ok: true, text: await this.deps.readTextFile(this.settings.ipForwardPath) };
    } catch (error) {
      const cause = error instanceof Deno.errors.NotCapable
        ? `no read permission for ${this.settings.ipForwardPath} (Deno refuses /proc without ` +
          "--allow-all: bind-mount it read-only to /run/aws-nat-router/ip_forward and set " +
          "AWS_NAT_ROUTER_IP_FORWARD_PATH there, as the shipped unit does)"
        : message(error);
      return { ok: false, error: cause };
    }
  }

  async #connectEgress(): Promise<EgressOutcome | undefined> {
    const target = this.settings.egress;
    if (target === undefined) return undefined;
    const connect = this.deps.connect ?? tcpConnect;
    const result = await connect(target, this.settings.timeoutMs, this.settings.attempts ?? 1);
    return { target: formatHostPort(target), reachable: result.healthy, error: result.error };
  }

  /** Turns this instance's source/dest check off; the instance as it is after that. */
  async #fixSourceDestCheck(instance: NatInstance): Promise<NatInstance> {
    const changes = planSourceDestChecks([instance]);
    if (changes.length === 0) return instance;
    const { log } = this.deps;
    if (this.settings.dryRun) {
      log.info("self_check.source_dest_check_planned", {
        instance_id: instance.instanceId,
        dry_run: true,
      });
      return instance;
    }
    const fixed = new Set<string | undefined>();
    for (const change of changes) {
      try {
        await this.deps.ec2.disableSourceDestCheck(change);
        fixed.add(change.networkInterfaceId);
        log.info("source_dest_check.disabled", {
          instance_id: change.instanceId,
          network_interface_id: change.networkInterfaceId,
          by: "self_check",
        });
      } catch (error) {
        const e = toEc2Error("ModifyInstanceAttribute", error);
        log.error("source_dest_check.failed", {
          instance_id: change.instanceId,
          network_interface_id: change.networkInterfaceId,
          code: e.code,
          error: e.detail,
          fix: "allow ec2:ModifyInstanceAttribute (see the README's IAM policy), or turn the " +
            "check off by hand",
        });
      }
    }
    return withSourceDestCheckOff(instance, fixed);
  }

  async #describe(): Promise<void> {
    const { instanceId, vpcId, clusterId } = this.settings;
    if (instanceId === undefined) {
      this.#self = { known: false, error: "own instance id unknown" };
      return;
    }
    try {
      const found = await this.deps.ec2.describeInstances({ vpcId, clusterId });
      const instance = found.items.find((item) => item.instanceId === instanceId);
      // Not found: not running, or not tagged into this VPC's cluster (peers do not probe it).
      this.#self = instance
        ? { known: true, instance: await this.#fixSourceDestCheck(instance) }
        : { known: false, error: `${instanceId} is not a running NAT instance of the cluster` };
    } catch (error) {
      // Keep what EC2 said last: the attribute rarely changes, and an outage says nothing.
      if (!this.#self.known) this.#self = { known: false, error: message(error) };
    }
  }
}

/** `instance` with the check off where `fixed` says it was turned off (`undefined`: the instance's). */
function withSourceDestCheckOff(
  instance: NatInstance,
  fixed: ReadonlySet<string | undefined>,
): NatInstance {
  if (fixed.size === 0) return instance;
  return {
    ...instance,
    sourceDestCheck: fixed.has(undefined) ? false : instance.sourceDestCheck,
    networkInterfaces: instance.networkInterfaces.map((eni) =>
      fixed.has(eni.networkInterfaceId) || fixed.has(undefined)
        ? { ...eni, sourceDestCheck: false }
        : eni
    ),
  };
}

export interface NodeHealthOptions {
  /** `undefined`: no self-check, the port (if any) is always served. */
  readonly selfCheck: SelfCheck | undefined;
  readonly thresholds: SelfCheckThresholds;
  readonly server: HealthServer | undefined;
  /** How often to check (`--probe-interval`). */
  readonly periodMs: number;
  readonly log: Logger;
  readonly clock: Clock;
}

/** Runs until `signal` aborts, then closes the health port. */
export async function runNodeHealth(
  options: NodeHealthOptions,
  signal: AbortSignal,
): Promise<void> {
  const { selfCheck, server, log, clock } = options;
  const address = server ? formatHostPort(server) : undefined;
  let state: SelfCheckState = INITIAL_SELF_CHECK_STATE;
  let unknownSelf: string | undefined;
  let serveError: string | undefined;
  try {
    while (!signal.aborted) {
      const started = clock.now();
      let serve = true;
      if (selfCheck) {
        const findings = await selfCheck.check();
        if (signal.aborted) break;
        const verdict = judge(findings);
        log.debug("self_check.checked", {
          passed: verdict.passed,
          reason: verdict.reasons.join(",") || undefined,
        });
        const unknown = findings.self.known ? undefined : findings.self.error;
        if (unknown !== undefined && unknown !== unknownSelf) {
          log.warn("self_check.source_dest_check_unknown", { error: unknown });
        }
        unknownSelf = unknown;
        const step = observeSelfCheck(state, verdict, options.thresholds);
        state = step.state;
        if (step.transition === "failed") {
          log.warn("self_check.failed", {
            reason: verdict.reasons.join(","),
            detail: verdict.details.join("; "),
            serving: address ?? "none",
          });
        } else if (step.transition === "passed") {
          log.info("self_check.passed", { serving: address ?? "none" });
        }
        serve = state.passing === true;
      }
      if (server) {
        const before = server.serving;
        const outcome = await server.setServing(serve);
        if (!outcome.ok) {
          if (outcome.error !== serveError) {
            log.error("health_server.listen_failed", {
              address,
              error: outcome.error,
              detail: outcome.detail,
            });
          }
          serveError = outcome.error;
        } else {
          serveError = undefined;
          if (server.serving !== before) {
            log.info(server.serving ? "health_server.listening" : "health_server.closed", {
              address,
            });
          }
        }
      }
      await clock.sleep(started + options.periodMs - clock.now(), signal);
    }
  } finally {
    await selfCheck?.settle();
    await server?.close();
  }
}

/** What `startNodeHealth` needs besides the configuration. */
export interface NodeHealthDeps {
  readonly ec2: Pick<Ec2, "describeInstances" | "disableSourceDestCheck">;
  readonly log: Logger;
  readonly clock: Clock;
  /** This instance, from the metadata service (needed with `--self-check`). */
  readonly instanceId: string | undefined;
  readonly readTextFile: (path: string) => Promise<string>;
  readonly connect?: Connect;
}

/** A running self-check / health port; `stop()` ends it and closes the port. */
export interface NodeHealth {
  stop(): Promise<void>;
}

/**
 * Starts the self-check and the health port as configured (nothing without `--self-check`
 * and `--serve-health`). `--self-check` alone still checks and logs, and says at start that
 * peers cannot see the verdict.
 */
export function startNodeHealth(
  config: Pick<
    Config,
    | "selfCheck"
    | "serveHealth"
    | "egressCheck"
    | "vpcId"
    | "clusterId"
    | "timeoutMs"
    | "probeAttempts"
    | "intervalMs"
    | "probeIntervalMs"
    | "fall"
    | "rise"
    | "ipForwardPath"
    | "serveHealthAddress"
    | "dryRun"
  >,
  deps: NodeHealthDeps,
  signal: AbortSignal,
): NodeHealth {
  if (!config.selfCheck && config.serveHealth === undefined) {
    return { stop: () => Promise.resolve() };
  }
  if (config.selfCheck && config.serveHealth === undefined) {
    deps.log.error("self_check.not_served", {
      error: "--self-check without --serve-health: peers cannot see this node's verdict",
      hint: "add --serve-health PORT and set every router's --port to that PORT",
    });
  }
  const server = config.serveHealth === undefined ? undefined : createHealthServer({
    hostname: config.serveHealthAddress,
    port: config.serveHealth,
  });
  const selfCheck = config.selfCheck
    ? new SelfCheck({
      instanceId: deps.instanceId,
      vpcId: config.vpcId,
      clusterId: config.clusterId,
      ipForwardPath: config.ipForwardPath,
      egress: config.egressCheck,
      timeoutMs: config.timeoutMs,
      attempts: config.probeAttempts,
      describeIntervalMs: config.intervalMs,
      dryRun: config.dryRun,
    }, {
      ec2: deps.ec2,
      log: deps.log,
      readTextFile: deps.readTextFile,
      clock: deps.clock,
      ...(deps.connect ? { connect: deps.connect } : {}),
    })
    : undefined;
  if (selfCheck) {
    deps.log.info("self_check.started", {
      instance_id: deps.instanceId,
      ip_forward_path: selfCheck.settings.ipForwardPath,
      egress: config.egressCheck ? formatHostPort(config.egressCheck) : "none",
      serve_health: server ? formatHostPort(server) : "none",
      fall: config.fall,
      rise: config.rise,
    });
  }
  // Nothing to check or serve (the default): no loop, no timer waking every probe period.
  if (!selfCheck && !server) return { stop: () => Promise.resolve() };
  const stopped = new AbortController();
  const done = runNodeHealth({
    selfCheck,
    thresholds: { fall: config.fall, rise: config.rise },
    server,
    periodMs: config.probeIntervalMs,
    log: deps.log,
    clock: deps.clock,
  }, AbortSignal.any([signal, stopped.signal]));
  return {
    stop: async () => {
      stopped.abort();
      await done;
    },
  };
}
