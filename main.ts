// deno-lint-ignore-file no-console
/**
 * @module Composition root: environment and arguments → `Config`, the real adapters
 * (EC2 through the AWS SDK, IMDSv2 through fetch, TCP probes, the logger), signal
 * handling and exit codes. The only caller of `Deno.exit`.
 *
 * Exit codes: 0 done (or the daemon stopped by SIGTERM/SIGINT), 1 a `--once` run that could
 * not complete its cycle (its inputs not found within its deadline, a stop before the cycle,
 * a failed change; `status`: EC2 could not be read), 2 bad input (nothing was changed in AWS).
 */
import { readConfigFile } from "./lib/adapters/aws_files.ts";
import { realClock } from "./lib/adapters/clock.ts";
import { type Config, ENV_NAMES, helpText, parseConfig } from "./lib/core/config.ts";
import { formatHostPort } from "./lib/core/parse.ts";
import { Controller } from "./lib/runtime/controller.ts";
import { createCredentialChain } from "./lib/adapters/credentials.ts";
import { createEc2, type NatGatewayReader, toEc2Error } from "./lib/adapters/ec2.ts";
import {
  checkFallbackGateways,
  fallbackGatewayError,
  fallbackGatewayIds,
} from "./lib/core/fallback.ts";
import { createLogger, type Logger } from "./lib/adapters/log.ts";
import type { LogLevel } from "./lib/model.ts";
import {
  createMetadata,
  type Metadata,
  metadataOptionsFromEnv,
  type NoticeSource,
} from "./lib/adapters/metadata.ts";
import {
  createRouterMetrics,
  type MetricsView,
  type RouterMetrics,
} from "./lib/runtime/metrics.ts";
import { serveMetrics } from "./lib/adapters/metrics_server.ts";
import { explainNotCapable, PERMISSION_FIX } from "./lib/adapters/net_errors.ts";
import { createTcpProbe, type Probe } from "./lib/adapters/probe.ts";
import { heartbeatSummary } from "./lib/core/heartbeat.ts";
import { lastOkCycle, runHeartbeat } from "./lib/runtime/heartbeat.ts";
import {
  givenRegion,
  identityFix,
  onceDeadlineMs,
  profileRegion,
  REGION_FIX,
  type RegionSource,
  retryDelayMs,
} from "./lib/core/startup.ts";
import { startNodeHealth } from "./lib/runtime/self_check_runner.ts";
import { drain, runDrainWatch, undrain } from "./lib/runtime/drain.ts";
import { formatStatusJson, formatStatusTable, statusReport } from "./lib/core/status.ts";
import { VERSION } from "./lib/core/version.ts";

/** The SDK variables the router itself reads (the SDK reads its own through `AWS_*`). */
const SDK_ENV = [
  "AWS_REGION",
  "AWS_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_DISABLED",
  "HOME",
  "USERPROFILE",
] as const;

/** Reads only the variables the router knows, so the permission set can list them. */
function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of [...ENV_NAMES, ...SDK_ENV]) env[name] = Deno.env.get(name);
  return env;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Metrics while `--metrics-listen` is set: the registry, and the view it reads at scrapes. */
interface Telemetry {
  readonly metrics: RouterMetrics;
  /** Set once the controller exists; until then only counters and build info are served. */
  view: (() => MetricsView) | undefined;
  close(): Promise<void>;
}

/**
 * Starts the metrics server when `--metrics-listen` is set. A server that cannot listen is
 * logged (`metrics.failed`) and the router routes without it: metrics never cost failover.
 */
function startMetrics(config: Config, log: Logger): Telemetry | undefined {
  const listen = config.metricsListen;
  if (listen === undefined) return undefined;
  const metrics = createRouterMetrics({ version: VERSION });
  const telemetry: Telemetry = { metrics, view: undefined, close: () => Promise.resolve() };
  try {
    const server = serveMetrics({
      hostname: listen.hostname,
      port: listen.port,
      render: () => metrics.render(telemetry.view?.()),
    });
    telemetry.close = () => server.close();
    log.info("metrics.listening", { address: server.address });
  } catch (error) {
    log.error("metrics.failed", {
      address: formatHostPort(listen),
      error: explainNotCapable(error) ?? errorText(error),
      fix: error instanceof Deno.errors.NotCapable
        ? "the permission set does not allow listening there; listen on an allowed address " +
          "(see the README's metrics section)"
        : "pick a free port or an address of this host with --metrics-listen",
    });
  }
  return telemetry;
}

/** What a run is waiting for: logged with the fix if a `--once` run gives up on it. */
interface Waiting {
  what: "identity" | "region" | "cycle";
  error: string | undefined;
  fix: string;
}

/** A region, and where it was found (logged as `region.resolved`). */
interface Region {
  readonly region: string;
  readonly source: RegionSource;
}

/**
 * Retries `task` with backoff until it succeeds or `signal` aborts (then `undefined`). Every
 * failure is logged with the fix; `waiting` keeps the last one for a `--once` deadline.
 */
async function untilDone<T>(
  what: "identity" | "region",
  task: () => Promise<T>,
  context: { log: Logger; signal: AbortSignal; fix: string; waiting: Waiting },
): Promise<T | undefined> {
  const { log, signal, fix, waiting } = context;
  Object.assign(waiting, { what, error: undefined, fix });
  for (let failures = 1; !signal.aborted; failures++) {
    try {
      return await task();
    } catch (error) {
      const delay = retryDelayMs(failures);
      waiting.error = errorText(error);
      log.error(`${what}.failed`, { error: waiting.error, retry_in_s: delay / 1000, fix });
      await realClock.sleep(delay, signal);
    }
  }
  return undefined;
}

async function run(
  config: Config,
  env: Record<string, string | undefined>,
  warnings: readonly string[],
  given: Region | undefined,
): Promise<number> {
  const log = createLogger({ level: config.logLevel });
  for (const warning of warnings) log.warn("config.warning", { warning });
  const stop = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) log.info("router.stopping", {});
    stop.abort();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await runWith(config, env, given, log, stop.signal);
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function runWith(
  config: Config,
  env: Record<string, string | undefined>,
  given: Region | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  const metadata = createMetadata(metadataOptionsFromEnv(env));
  log.info("router.started", {
    version: VERSION,
    vpc_id: config.vpcId,
    cluster_id: config.clusterId,
    ec2_election: config.ec2Election,
    dry_run: config.dryRun,
    once: config.once,
  });
  const telemetry = startMetrics(config, log);
  const waiting: Waiting = { what: "cycle", error: undefined, fix: "" };
  try {
    const work = route(config, env, given, log, signal, metadata, telemetry, waiting);
    return config.once ? await withinDeadline(config, work, log, waiting) : await work;
  } finally {
    await telemetry?.close();
  }
}

/**
 * A one-shot run's total deadline: `work`'s exit code, or 1 with one `once.gave_up` line
 * naming what it was still waiting for and the fix, once `onceDeadlineMs` has passed.
 */
async function withinDeadline(
  config: Config,
  work: Promise<number>,
  log: Logger,
  waiting: Waiting,
): Promise<number> {
  const deadlineMs = onceDeadlineMs(config);
  const timer = new AbortController();
  const expired = realClock.sleep(deadlineMs, timer.signal).then(() => undefined);
  work.catch(() => {}); // past the deadline the process exits; nothing waits for it
  try {
    const code = await Promise.race([work, expired]);
    if (code !== undefined) return code;
  } finally {
    timer.abort();
  }
  log.error("once.gave_up", {
    waiting_for: waiting.what,
    after_s: deadlineMs / 1000,
    error: waiting.error,
    fix: waiting.fix,
  });
  log.info("router.stopped", { ok: false });
  return 1;
}

/** Stopped by a signal before any cycle ran: fine for the daemon, a failure for `--once`. */
function stoppedBeforeCycle(config: Config, log: Logger): number {
  log.info("router.stopped", { ok: !config.once, cycles: 0 });
  return config.once ? 1 : 0;
}

/** Logs, once per address, a health check the permission set refused, with the fix. */
function explainRefusedProbes(probe: Probe, log: Logger): Probe {
  const noted = new Set<string>();
  return async (target) => {
    const result = await probe(target);
    const address = target.address ?? "";
    if (result.error === "not_permitted" && !noted.has(address)) {
      noted.add(address);
      log.error("probe.not_permitted", {
        instance_id: target.instanceId,
        address,
        fix: `the health check's address is outside the permission set; ${PERMISSION_FIX}`,
      });
    }
    return result;
  };
}

async function route(
  config: Config,
  env: Record<string, string | undefined>,
  given: Region | undefined,
  log: Logger,
  signal: AbortSignal,
  metadata: Metadata & NoticeSource,
  telemetry: Telemetry | undefined,
  waiting: Waiting,
): Promise<number> {
  // The election, the self-check (a daemon only) and recovery (never this node itself) need
  // to know which instance this is.
  const selfCheck = config.selfCheck && !config.once;
  const needsIdentity = config.ec2Election || selfCheck || config.recovery !== "off";
  const identity = needsIdentity
    ? await untilDone("identity", () => metadata.identity(), {
      log,
      signal,
      waiting,
      fix: identityFix({ ec2Election: config.ec2Election, selfCheck }),
    })
    : undefined;
  if (needsIdentity && !identity) return stoppedBeforeCycle(config, log);
  const resolved: Region | undefined = given ??
    (identity ? { region: identity.region, source: "metadata" } : await untilDone(
      "region",
      async () => ({ region: await metadata.region(), source: "metadata" as const }),
      { log, signal, waiting, fix: REGION_FIX },
    ));
  if (!resolved) return stoppedBeforeCycle(config, log);
  const { region } = resolved;
  log.info("region.resolved", { region, source: resolved.source });
  Object.assign(waiting, {
    what: "cycle",
    error: undefined,
    fix: "EC2 or the health checks did not answer in time (see the lines above); run it again",
  });
  if (identity) {
    log.info("identity.resolved", {
      instance_id: identity.instanceId,
      zone: identity.zone,
      region,
    });
  }

  const credentials = createCredentialChain(env, metadata);
  const ec2 = createEc2({
    region,
    credentials,
    requestTimeoutMs: config.requestTimeoutMs,
    ...(telemetry ? { onCall: telemetry.metrics.onEc2Call } : {}),
  });
  try {
    if (config.fallbackNatGateway !== undefined) {
      const bad = await checkFallbackAtStart(config, ec2, log);
      if (bad !== undefined) return bad;
    }
    const lastOk = lastOkCycle();
    const metricsObserver = telemetry?.metrics.observer;
    const controller = new Controller(config, {
      ec2,
      probe: explainRefusedProbes(
        healthProbe(config),
        log,
      ),
      log,
      clock: realClock,
      self: identity?.instanceId,
      observer: {
        ...metricsObserver,
        cycle: (info) => {
          metricsObserver?.cycle(info);
          lastOk.cycle(info);
        },
      },
    });
    if (telemetry) {
      telemetry.view = () => believed(controller);
    }
    if (config.once) {
      const outcome = await controller.runOnce();
      log.info("router.stopped", { ok: outcome.ok });
      return outcome.ok ? 0 : 1;
    }
    const drainWatch = identity
      ? runDrainWatch({
        notices: metadata,
        ec2,
        log,
        clock: realClock,
        self: identity.instanceId,
        bootedAt: bootTime(config, log),
        own: () => ownView(controller, identity.instanceId),
        refresh: async () => {
          if (await controller.discover()) await controller.reconcile("discovery");
        },
      }, signal)
      : Promise.resolve();
    const nodeHealth = startNodeHealth(config, {
      ec2,
      log,
      clock: realClock,
      instanceId: identity?.instanceId,
      readTextFile: (path) => Deno.readTextFile(path),
    }, signal);
    const heartbeat = config.heartbeatMs > 0
      ? runHeartbeat({
        clock: realClock,
        log,
        periodMs: config.heartbeatMs,
        summary: () => heartbeatSummary(believed(controller), lastOk.at()),
      }, signal)
      : Promise.resolve();
    try {
      await controller.run(signal);
    } finally {
      await nodeHealth.stop();
      await heartbeat;
      await drainWatch;
    }
    log.info("router.stopped", {});
    return 0;
  } finally {
    ec2.destroy();
  }
}

/** This node's draining mark and health verdict as the controller sees them (drain watch). */
function ownView(controller: Controller, instanceId: string) {
  const view = controller.snapshot().view;
  const instance = view?.instances.find((i) => i.instanceId === instanceId);
  if (!view || !instance) return undefined;
  return { drainingSince: instance.drainingSince, healthy: view.health.get(instanceId)?.healthy };
}

/**
 * When this instance booted (`osUptime`): a draining mark older than that was set for a
 * shutdown or reboot, and is cleared once the node is healthy again. 0 (never clear) when
 * the uptime cannot be read.
 */
function bootTime(config: Config, log: Logger): number {
  const given = Date.parse(config.bootedAt);
  if (!Number.isNaN(given)) return given;
  try {
    return Date.now() - Deno.osUptime() * 1000;
  } catch (error) {
    log.warn("drain.boot_time_unknown", {
      error: explainNotCapable(error) ?? errorText(error),
      fix: "a draining mark set before a reboot stays until undrain or its expiry",
    });
    return 0;
  }
}

/**
 * `drain` / `undrain` on this NAT instance: its identity from the metadata service, then the
 * departure (see lib/runtime/drain.ts). One line on failure; 2 bad input, nothing changed.
 */
async function departure(
  config: Config,
  env: Record<string, string | undefined>,
  warnings: readonly string[],
  given: Region | undefined,
): Promise<number> {
  const verb = config.command === "drain" ? "drain" : "undrain";
  const log = createLogger({ level: config.logLevel });
  for (const warning of warnings) log.warn("config.warning", { warning });
  const metadata = createMetadata(metadataOptionsFromEnv(env));
  let identity;
  try {
    identity = await metadata.identity();
  } catch (error) {
    console.error(
      `aws-nat-router: Cannot ${verb}: this instance's identity is unknown: ${errorText(error)}; ` +
        `run ${verb} on the NAT instance itself (it reads its id from the metadata service)`,
    );
    return 2;
  }
  const ec2 = createEc2({
    region: given?.region ?? identity.region,
    credentials: createCredentialChain(env, metadata),
    requestTimeoutMs: config.requestTimeoutMs,
  });
  try {
    const deps = {
      ec2,
      probe: healthProbe(config),
      log,
      clock: realClock,
      self: identity.instanceId,
    };
    const outcome = verb === "drain" ? await drain(config, deps) : await undrain(config, deps);
    if (outcome.error !== undefined) console.error(`aws-nat-router: ${outcome.error}`);
    return outcome.code;
  } finally {
    ec2.destroy();
  }
}

/**
 * `--fallback-nat-gateway` is confirmed before it is ever needed: each gateway must exist, be
 * `available`, be in the VPC and have public connectivity. One that is not is bad input: one
 * line, exit 2, before any change. When EC2 cannot be read, say so and go on (a NAT gateway
 * check must not keep the router from starting).
 */
async function checkFallbackAtStart(
  config: Config,
  ec2: NatGatewayReader,
  log: Logger,
): Promise<number | undefined> {
  const fallback = config.fallbackNatGateway;
  if (fallback === undefined) return undefined;
  try {
    const found = await ec2.describeNatGateways(fallbackGatewayIds(fallback));
    const problems = checkFallbackGateways(fallback, config.vpcId, found);
    if (problems.length === 0) {
      log.info("fallback.checked", { nat_gateway_ids: fallbackGatewayIds(fallback).join(",") });
      return undefined;
    }
    console.error(`aws-nat-router: ${fallbackGatewayError(problems, config.vpcId)}`);
    return 2;
  } catch (error) {
    const e = toEc2Error("DescribeNatGateways", error);
    log.warn("fallback.unchecked", { code: e.code, error: e.detail });
    return undefined;
  }
}

/** The health check of every NAT instance, as the flags configure it. */
function healthProbe(config: Config) {
  return createTcpProbe({
    port: config.port,
    timeoutMs: config.timeoutMs,
    attempts: config.probeAttempts,
    refusalWindowMs: config.probeIntervalMs,
  });
}

/** What the controller believes now: its view and its latest decision (metrics, heartbeat). */
function believed(controller: Controller) {
  const { view, decision } = controller.snapshot();
  return {
    instances: view?.instances ?? [],
    routeTables: view?.routeTables ?? [],
    health: view?.health ?? new Map(),
    leader: decision?.leader,
    decision,
  };
}

/**
 * `status` logs at warn so that stderr carries only problems (the report is on stdout),
 * unless a level was asked for with `--log-level`, `AWS_NAT_ROUTER_LOG_LEVEL` or `LOG_LEVEL`.
 */
function statusLogLevel(
  config: Config,
  args: readonly string[],
  env: Record<string, string | undefined>,
): LogLevel {
  const flag = args.some((arg) => arg === "--log-level" || arg.startsWith("--log-level="));
  const fromEnv = ["AWS_NAT_ROUTER_LOG_LEVEL", "LOG_LEVEL"].some((name) =>
    (env[name]?.trim() ?? "") !== ""
  );
  return flag || fromEnv ? config.logLevel : "warn";
}

/**
 * `status`: discovers and probes like a cycle, decides, prints the report on stdout and
 * changes nothing. 0 printed; 1 EC2 could not be read or a NAT instance got no verdict.
 */
async function status(
  config: Config,
  env: Record<string, string | undefined>,
  warnings: readonly string[],
  args: readonly string[],
  given: Region | undefined,
): Promise<number> {
  const log = createLogger({ level: statusLogLevel(config, args, env) });
  for (const warning of warnings) log.warn("config.warning", { warning });
  const metadata: Metadata = createMetadata(metadataOptionsFromEnv(env));
  let region = given?.region;
  if (!region) {
    try {
      region = await metadata.region();
    } catch (error) {
      log.error("region.failed", { error: errorText(error), fix: REGION_FIX });
      return 1;
    }
  }
  const ec2 = createEc2({
    region,
    credentials: createCredentialChain(env, metadata),
    requestTimeoutMs: config.requestTimeoutMs,
  });
  try {
    const controller = new Controller({ ...config, dryRun: true }, {
      ec2,
      probe: healthProbe(config),
      log,
      clock: realClock,
      self: undefined,
    });
    const decision = await controller.preview(); // never applies anything
    if (!decision) return 1; // discovery.failed said why
    if (!decision.decided) {
      log.error("status.undecided", {
        instances: decision.pending.join(","),
        fix: "their health checks disagree from one probe to the next; run status again",
      });
      return 1;
    }
    const report = statusReport(decision, config);
    console.log(config.output === "json" ? formatStatusJson(report) : formatStatusTable(report));
    return 0;
  } finally {
    ec2.destroy();
  }
}

async function main(args: string[]): Promise<number> {
  const env = readEnv();
  const parsed = parseConfig(args, env);
  if (!parsed.ok) {
    console.error(`aws-nat-router: ${parsed.error}`);
    return 2;
  }
  if (parsed.action === "help") {
    console.log(helpText());
    return 0;
  }
  if (parsed.action === "version") {
    console.log(`aws-nat-router ${VERSION}`);
    return 0;
  }
  const profile = await readProfileRegion(parsed.config, env);
  if (profile.error !== undefined) {
    console.error(`aws-nat-router: ${profile.error}`);
    return 2;
  }
  const warnings = [...parsed.warnings, ...(profile.warning ? [profile.warning] : [])];
  const given = givenRegion({
    flag: parsed.config.region,
    environment: env.AWS_REGION,
    profile: profile.region,
  });
  if (parsed.config.command === "status") {
    return await status(parsed.config, env, warnings, args, given);
  }
  if (parsed.config.command === "drain" || parsed.config.command === "undrain") {
    return await departure(parsed.config, env, warnings, given);
  }
  return await run(parsed.config, env, warnings, given);
}

/**
 * The region of the selected profile (`AWS_PROFILE`, else `default`) in the AWS config file,
 * read only when neither `--region` nor `AWS_REGION` gives one. A malformed region is bad
 * input; a file outside the permission set is a warning (the metadata service comes next).
 */
async function readProfileRegion(
  config: Config,
  env: Record<string, string | undefined>,
): Promise<{ region?: string; warning?: string; error?: string }> {
  if (config.region || env.AWS_REGION?.trim()) return {};
  const file = await readConfigFile(env);
  if (file.kind === "absent") return {};
  if (file.kind === "refused") return { warning: `Ignored the AWS config file: ${file.error}` };
  const found = profileRegion(file.text, env.AWS_PROFILE?.trim() || "default", file.path);
  if (!found.ok) return { error: found.error };
  return found.region === undefined ? {} : { region: found.region };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
