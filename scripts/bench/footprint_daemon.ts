// deno-lint-ignore-file no-console
/**
 * @module The footprint benchmark's long-run driver: the daemon as `main.ts` composes it (the
 * whole module graph of `main.ts` loaded, metadata and the credential chain through the
 * simulated IMDS, the EC2 adapter, the TCP probe, `Controller.run` and the node-health
 * runner) with one difference: the wait between its cycles is `--speedup` times shorter, so
 * 10,000 cycles of the default 5 s interval take minutes, not 14 hours. Probes, timestamps,
 * probe and request timeouts keep their real pace. After each checkpoint's cycle (a cycle = one discovery)
 * it prints `{"cycle":N,"heapUsed":...}`; the parent then reads this process's /proc files
 * (no GC is forced: what the kernel sees).
 *
 * Usage: deno run -P=sim [--v8-flags=...] scripts/bench/footprint_daemon.ts --imds URL \
 *   --cycles 10000 --checkpoints 10,1000,10000 [--speedup 200] -- <router flags>
 * (AWS_REGION and AWS_ENDPOINT_URL_EC2 in the environment, as for the router.)
 */
import "../../main.ts"; // the program's own module graph, as the daemon loads it
import { parseArgs } from "node:util";
import { type Clock, realClock } from "../../lib/adapters/clock.ts";
import { parseConfig } from "../../lib/core/config.ts";
import { Controller } from "../../lib/runtime/controller.ts";
import { createCredentialChain } from "../../lib/adapters/credentials.ts";
import { createEc2 } from "../../lib/adapters/ec2.ts";
import { createLogger } from "../../lib/adapters/log.ts";
import { createMetadata, metadataOptionsFromEnv } from "../../lib/adapters/metadata.ts";
import { createTcpProbe } from "../../lib/adapters/probe.ts";
import { startNodeHealth } from "../../lib/runtime/self_check_runner.ts";

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      imds: { type: "string" },
      cycles: { type: "string", default: "10000" },
      checkpoints: { type: "string", default: "10,1000,10000" },
      speedup: { type: "string", default: "200" },
    },
  });
  const cycles = Number(values.cycles);
  const speedup = Number(values.speedup);
  const checkpoints = new Set(values.checkpoints.split(",").map(Number));
  const env = {
    AWS_REGION: Deno.env.get("AWS_REGION"),
    AWS_EC2_METADATA_SERVICE_ENDPOINT: values.imds,
  };
  const parsed = parseConfig(positionals, env);
  if (!parsed.ok || parsed.action !== "config" || !values.imds || !(speedup >= 1)) {
    console.error(`footprint_daemon: ${parsed.ok ? "pass --imds and router flags" : parsed.error}`);
    return 2;
  }
  const { config } = parsed;
  const clock: Clock = {
    now: realClock.now,
    // Only the cycle's wait is shortened, as a short --interval would: probe loops keep
    // their own pace.
    sleep: (ms, signal) => realClock.sleep(ms >= config.intervalMs / 2 ? ms / speedup : ms, signal),
  };
  const log = createLogger({ level: "warn" });
  const metadata = createMetadata(metadataOptionsFromEnv(env));
  const identity = await metadata.identity();
  const ec2 = createEc2({
    region: identity.region,
    credentials: createCredentialChain(env, metadata),
    requestTimeoutMs: config.requestTimeoutMs,
  });
  const stop = new AbortController();
  let cycle = 0;
  let failures = 0;
  const started = performance.now();
  const counted = {
    ...ec2,
    async describeRouteTables(query: Parameters<typeof ec2.describeRouteTables>[0]) {
      try {
        return await ec2.describeRouteTables(query);
      } catch (error) {
        failures++;
        throw error;
      } finally {
        cycle++;
        if (checkpoints.has(cycle) || cycle === cycles) {
          const heap = Deno.memoryUsage();
          console.log(JSON.stringify({
            cycle,
            heapUsed: heap.heapUsed,
            heapTotal: heap.heapTotal,
            external: heap.external,
            elapsedMs: Math.round(performance.now() - started),
            failures,
          }));
        }
        // Stop a moment after the last checkpoint: the parent is reading /proc meanwhile.
        if (cycle === cycles) setTimeout(() => stop.abort(), 2000);
      }
    },
  };
  try {
    const controller = new Controller(config, {
      ec2: counted,
      probe: createTcpProbe({ port: config.port, timeoutMs: config.timeoutMs }),
      log,
      clock,
      self: identity.instanceId,
    });
    const nodeHealth = startNodeHealth(config, {
      ec2: counted,
      log,
      clock,
      instanceId: identity.instanceId,
      readTextFile: (path) => Deno.readTextFile(path),
    }, stop.signal);
    try {
      await controller.run(stop.signal);
    } finally {
      await nodeHealth.stop();
    }
  } finally {
    ec2.destroy();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
