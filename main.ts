// deno-lint-ignore-file no-console
/**
 * @module Composition root: environment and arguments → `Config`, the real adapters
 * (EC2 through the AWS SDK, IMDSv2 through fetch, TCP probes, the logger), signal
 * handling and exit codes. The only caller of `Deno.exit`.
 *
 * Exit codes: 0 done (or stopped by SIGTERM/SIGINT), 1 a `--once` cycle that could not
 * complete or a change that failed, 2 bad input (nothing was changed in AWS).
 */
import { realClock } from "./lib/clock.ts";
import { type Config, ENV_NAMES, helpText, parseConfig } from "./lib/config.ts";
import { Controller } from "./lib/controller.ts";
import { createCredentialChain } from "./lib/credentials.ts";
import { createEc2 } from "./lib/ec2.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { createMetadata, type Metadata, metadataOptionsFromEnv } from "./lib/metadata.ts";
import { createTcpProbe } from "./lib/probe.ts";
import { VERSION } from "./lib/version.ts";

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
        error: error instanceof Error ? error.message : String(error),
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

  const identity = config.ec2Election
    ? await untilDone("identity", () => metadata.identity(), log, signal)
    : undefined;
  if (config.ec2Election && !identity) return 0; // stopped while waiting
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
    requestTimeoutMs: Math.max(2000, Math.min(10_000, config.intervalMs)),
  });
  try {
    const controller = new Controller(config, {
      ec2,
      probe: createTcpProbe({ port: config.port, timeoutMs: config.timeoutMs }),
      log,
      clock: realClock,
      self: identity?.instanceId,
    });
    if (config.once) {
      const outcome = await controller.runOnce();
      log.info("router.stopped", { ok: outcome.ok });
      return outcome.ok ? 0 : 1;
    }
    await controller.run(signal);
    log.info("router.stopped", {});
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
  return await run(parsed.config, env, parsed.warnings);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
