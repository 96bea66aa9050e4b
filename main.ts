// deno-lint-ignore-file no-console
/**
 * @module Composition root: environment and arguments → `Config`, the real adapters
 * (EC2 through the AWS SDK, IMDSv2 through fetch, TCP probes, the logger), signal
 * handling and exit codes. The only caller of `Deno.exit`.
 *
 * Exit codes: 0 done (or stopped by SIGTERM/SIGINT), 1 a `--once` cycle that could not
 * complete or a change that failed (`status`: EC2 could not be read), 2 bad input (nothing
 * was changed in AWS).
 */
import { realClock } from "./lib/adapters/clock.ts";
import { type Config, ENV_NAMES, helpText, parseConfig } from "./lib/core/config.ts";
import { Controller } from "./lib/runtime/controller.ts";
import { createCredentialChain } from "./lib/adapters/credentials.ts";
import { createEc2 } from "./lib/adapters/ec2.ts";
import { createLogger, type Logger } from "./lib/adapters/log.ts";
import type { LogLevel } from "./lib/model.ts";
import { createMetadata, type Metadata, metadataOptionsFromEnv } from "./lib/adapters/metadata.ts";
import {
  createRouterMetrics,
  type MetricsView,
  type RouterMetrics,
} from "./lib/runtime/metrics.ts";
import { serveMetrics } from "./lib/adapters/metrics_server.ts";
import { createTcpProbe } from "./lib/adapters/probe.ts";
import { startNodeHealth } from "./lib/runtime/self_check_runner.ts";
import { formatStatusJson, formatStatusTable, statusReport } from "./lib/core/status.ts";
import { VERSION } from "./lib/core/version.ts";

/** The SDK variables the router itself reads (the SDK reads its own through `AWS_*`). */
const SDK_ENV = [
  "AWS_REGION",
  "AWS_PROFILE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_DISABLED",
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
  const metrics = createRouterMetrics({ version: VERSION, ec2Election: config.ec2Election });
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
    const address = listen.hostname.includes(":")
      ? `[${listen.hostname}]:${listen.port}`
      : `${listen.hostname}:${listen.port}`;
    log.error("metrics.failed", {
      address,
      error: errorText(error),
      fix: error instanceof Deno.errors.NotCapable
        ? "the permission set does not allow listening there; listen on an allowed address " +
          "(see the README's metrics section)"
        : "pick a free port or an address of this host with --metrics-listen",
    });
  }
  return telemetry;
}

/** Retries `task` with backoff until it succeeds or `signal` aborts (then `undefined`). */
async function untilDone<T>(
  what: string,
  task: () => Promise<T>,
  log: Logger,
  signal: AbortSignal,
): Promise<T | undefined> {
  for (let delay = 1000; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
    try {
      return await task();
    } catch (error) {
      log.error(`${what}.failed`, {
        error: errorText(error),
        retry_in_s: delay / 1000,
      });
      await realClock.sleep(delay, signal);
    }
  }
  return undefined;
}

async function run(
  config: Config,
  env: Record<string, string | undefined>,
  warnings: readonly string[],
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
    return await runWith(config, env, log, stop.signal);
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function runWith(
  config: Config,
  env: Record<string, string | undefined>,
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  const metadata: Metadata = createMetadata(metadataOptionsFromEnv(env));
  log.info("router.started", {
    version: VERSION,
    vpc_id: config.vpcId,
    cluster_id: config.clusterId,
    ec2_election: config.ec2Election,
    dry_run: config.dryRun,
    once: config.once,
  });
  const telemetry = startMetrics(config, log);
  try {
    return await route(config, env, log, signal, metadata, telemetry);
  } finally {
    await telemetry?.close();
  }
}

async function route(
  config: Config,
  env: Record<string, string | undefined>,
  log: Logger,
  signal: AbortSignal,
  metadata: Metadata,
  telemetry: Telemetry | undefined,
): Promise<number> {
  // The election and the self-check (a daemon only) both need to know which instance this is.
  const needsIdentity = config.ec2Election || (config.selfCheck && !config.once);
  const identity = needsIdentity
    ? await untilDone("identity", () => metadata.identity(), log, signal)
    : undefined;
  if (needsIdentity && !identity) return 0; // stopped while waiting
  const region = config.region ?? env.AWS_REGION ?? identity?.region ??
    await untilDone("region", () => metadata.region(), log, signal);
  if (!region) return 0;
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
    requestTimeoutMs: requestTimeoutMs(config),
    ...(telemetry ? { onCall: telemetry.metrics.onEc2Call } : {}),
  });
  try {
    const controller = new Controller(config, {
      ec2,
      probe: createTcpProbe({
        port: config.port,
        timeoutMs: config.timeoutMs,
        attempts: config.probeAttempts,
        refusalWindowMs: config.probeIntervalMs,
      }),
      log,
      clock: realClock,
      self: identity?.instanceId,
      ...(telemetry ? { observer: telemetry.metrics.observer } : {}),
    });
    if (telemetry) {
      telemetry.view = () => ({ ...controller.view(), self: identity?.instanceId });
    }
    if (config.once) {
      const outcome = await controller.runOnce();
      log.info("router.stopped", { ok: outcome.ok });
      return outcome.ok ? 0 : 1;
    }
    const nodeHealth = startNodeHealth(config, {
      ec2,
      log,
      clock: realClock,
      instanceId: identity?.instanceId,
      readTextFile: (path) => Deno.readTextFile(path),
      env: (name) => Deno.env.get(name),
    }, signal);
    try {
      await controller.run(signal);
    } finally {
      await nodeHealth.stop();
    }
    log.info("router.stopped", {});
    return 0;
  } finally {
    ec2.destroy();
  }
}

function requestTimeoutMs(config: Config): number {
  return Math.max(2000, Math.min(10_000, config.intervalMs));
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
): Promise<number> {
  const log = createLogger({ level: statusLogLevel(config, args, env) });
  for (const warning of warnings) log.warn("config.warning", { warning });
  const metadata: Metadata = createMetadata(metadataOptionsFromEnv(env));
  let region = config.region ?? env.AWS_REGION;
  if (!region) {
    try {
      region = await metadata.region();
    } catch (error) {
      log.error("region.failed", {
        error: errorText(error),
        fix: "pass --region or set AWS_REGION when not on an EC2 instance",
      });
      return 1;
    }
  }
  const ec2 = createEc2({
    region,
    credentials: createCredentialChain(env, metadata),
    requestTimeoutMs: requestTimeoutMs(config),
  });
  try {
    const controller = new Controller({ ...config, dryRun: true }, {
      ec2,
      probe: createTcpProbe({
        port: config.port,
        timeoutMs: config.timeoutMs,
        attempts: config.probeAttempts,
        refusalWindowMs: config.probeIntervalMs,
      }),
      log,
      clock: realClock,
      self: undefined,
    });
    const decision = await controller.preview(); // never applies anything
    if (!decision) {
      const { instances, health } = controller.view();
      const pending = instances.filter((i) => health.get(i.instanceId)?.healthy === undefined);
      if (pending.length > 0) { // otherwise discovery.failed said why
        log.error("status.undecided", {
          instances: pending.map((i) => i.instanceId).join(","),
          fix: "their health checks disagree from one probe to the next; run status again",
        });
      }
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
  if (parsed.config.command === "status") {
    return await status(parsed.config, env, parsed.warnings, args);
  }
  return await run(parsed.config, env, parsed.warnings);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
