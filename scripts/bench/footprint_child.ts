// deno-lint-ignore-file no-console
/**
 * @module The footprint benchmark's driver process: the real `Controller` with the real EC2
 * adapter (against the simulated endpoint, static test credentials), the real TCP probe and
 * a logger at `warn`, run for many back-to-back cycles (discover, probe every instance,
 * reconcile) — the program's own `--interval` cannot go below 1 s. Prints one JSON line per
 * checkpoint: `{"cycle":10,"rss":...,"heapUsed":...}` (bytes, after a GC when exposed).
 *
 * Usage: deno run -P=sim --v8-flags=--expose-gc scripts/bench/footprint_child.ts \
 *   --endpoint http://127.0.0.1:PORT --vpc-id vpc-... --port HEALTH_PORT [--cycles 1000]
 *   [--checkpoints 10,100,500,1000]
 */
import { parseArgs } from "node:util";
import { realClock } from "../../lib/adapters/clock.ts";
import { parseConfig } from "../../lib/core/config.ts";
import { Controller } from "../../lib/runtime/controller.ts";
import { createEc2 } from "../../lib/adapters/ec2.ts";
import { createLogger } from "../../lib/adapters/log.ts";
import { createTcpProbe } from "../../lib/adapters/probe.ts";
import { TEST_CREDENTIALS } from "../../tests/sim/vpc.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      endpoint: { type: "string" },
      "vpc-id": { type: "string" },
      port: { type: "string" },
      cycles: { type: "string", default: "1000" },
      checkpoints: { type: "string", default: "10,100,500,1000" },
    },
  });
  const endpoint = values.endpoint;
  const vpcId = values["vpc-id"];
  const port = Number(values.port);
  const cycles = Number(values.cycles);
  const checkpoints = new Set(values.checkpoints.split(",").map(Number));
  if (!endpoint || !vpcId || !Number.isInteger(port) || !Number.isInteger(cycles)) {
    console.error("footprint_child: pass --endpoint, --vpc-id, --port and optionally --cycles");
    return 2;
  }
  const ec2 = createEc2({
    region: "us-east-1",
    credentials: () => Promise.resolve({ ...TEST_CREDENTIALS }),
    requestTimeoutMs: 5000,
    endpoint,
  });
  // The real parser, so the settings are exactly what main.ts would pass.
  const parsed = parseConfig([
    "--vpc-id",
    vpcId,
    "--port",
    String(port),
    "--probe-interval",
    "1s",
    "--fall",
    "2",
    "--rise",
    "2",
    "--timeout",
    "500ms",
    "--failback-delay",
    "0",
  ], {});
  if (!parsed.ok || parsed.action !== "config") {
    console.error(`footprint_child: ${parsed.ok ? parsed.action : parsed.error}`);
    return 2;
  }
  const { config } = parsed;
  const controller = new Controller(config, {
    ec2,
    probe: createTcpProbe({ port: config.port, timeoutMs: config.timeoutMs }),
    log: createLogger({ level: "warn" }),
    clock: realClock,
    self: undefined,
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  const started = performance.now();
  let failures = 0;
  try {
    for (let cycle = 1; cycle <= cycles; cycle++) {
      if (!await controller.discover()) failures++;
      await controller.probeRound();
      const outcome = await controller.reconcile("discovery");
      if (!outcome.ok) failures++;
      if (checkpoints.has(cycle) || cycle === cycles) {
        gc?.();
        gc?.();
        const memory = Deno.memoryUsage();
        console.log(JSON.stringify({
          cycle,
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          heapTotal: memory.heapTotal,
          external: memory.external,
          elapsedMs: Math.round(performance.now() - started),
          failures,
          gc: gc !== undefined,
        }));
      }
    }
  } finally {
    ec2.destroy();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
