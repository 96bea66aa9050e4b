/**
 * @module Tests for the daemon's drain watch with fake ports: a notice marks the node once and
 * reconciles at once; a mark set before this boot is cleared once the node is healthy (and
 * only then); a mark set since stays; a metadata service that fails is logged once.
 */
import assert from "node:assert/strict";
import type { Clock } from "../adapters/clock.ts";
import { createLogger } from "../adapters/log.ts";
import type { NoticeAsk, Notices } from "../adapters/metadata.ts";
import { runDrainWatch } from "./drain.ts";
import { createRouterMetrics } from "./metrics.ts";
import { natInstance } from "../../tests/fixtures.ts";

const BOOT = Date.parse("2026-12-01T12:00:00Z");

interface World {
  now: number;
  notices: Notices | Error;
  /** `instance-life-cycle`; the default world is a spot instance. */
  lifeCycle: string | undefined;
  /** What each poll asked for: `s` spot, `a` Auto Scaling, `-` nothing. */
  asked: string[];
  mark: number | undefined;
  healthy: boolean | undefined;
  calls: string[];
  lines: string[];
}

/** Runs the watch for `rounds` polls on a clock that only moves when it sleeps. */
async function watch(world: World, rounds: number): Promise<void> {
  const stop = new AbortController();
  let sleeps = 0;
  const clock: Clock = {
    now: () => world.now,
    sleep: (ms) => {
      world.now += ms;
      if (++sleeps >= rounds) stop.abort();
      return Promise.resolve();
    },
  };
  const log = createLogger({ level: "debug", write: (line: string) => world.lines.push(line) });
  await runDrainWatch({
    notices: {
      lifeCycle: () => Promise.resolve(world.lifeCycle),
      notices: (ask: NoticeAsk) => {
        world.asked.push(`${ask.spot ? "s" : ""}${ask.autoScaling ? "a" : ""}` || "-");
        if (world.notices instanceof Error) return Promise.reject(world.notices);
        return Promise.resolve({
          spotInstanceAction: ask.spot ? world.notices.spotInstanceAction : undefined,
          lifecycleState: ask.autoScaling ? world.notices.lifecycleState : undefined,
        });
      },
    },
    ec2: {
      markDraining: (id, value) => {
        world.calls.push(`mark ${id} ${value}`);
        world.mark = Date.parse(value);
        return Promise.resolve();
      },
      clearDraining: (id) => {
        world.calls.push(`clear ${id}`);
        world.mark = undefined;
        return Promise.resolve();
      },
    },
    log,
    clock,
    self: "i-1",
    bootedAt: BOOT,
    own: () => ({ drainingSince: world.mark, healthy: world.healthy }),
    refresh: () => {
      world.calls.push("refresh");
      return Promise.resolve();
    },
  }, stop.signal);
}

function world(fields: Partial<World> = {}): World {
  return {
    now: BOOT + 60_000,
    notices: { spotInstanceAction: undefined, lifecycleState: undefined },
    lifeCycle: "spot",
    asked: [],
    mark: undefined,
    healthy: true,
    calls: [],
    lines: [],
    ...fields,
  };
}

Deno.test("runDrainWatch()", async (t) => {
  await t.step("no notice, no mark: it changes nothing", async () => {
    const w = world();
    await watch(w, 3);
    assert.deepEqual(w.calls, []);
  });

  await t.step("a spot notice marks the node once and reconciles at once", async () => {
    const w = world({
      notices: { spotInstanceAction: '{"action":"terminate"}', lifecycleState: undefined },
    });
    await watch(w, 5);
    assert.deepEqual(w.calls, ["mark i-1 2026-12-01T12:01:00Z", "refresh"]);
    assert.ok(
      w.lines.some((l) => /drain\.started instance_id=i-1 reason=spot_interruption/.test(l)),
    );
  });

  await t.step(
    "an Auto Scaling termination of a node already draining does not mark again",
    async () => {
      const w = world({
        mark: BOOT + 30_000,
        notices: { spotInstanceAction: undefined, lifecycleState: "Terminated" },
      });
      await watch(w, 3);
      assert.deepEqual(w.calls, ["refresh"]);
    },
  );

  await t.step(
    "a mark from before this boot is cleared once healthy, then reconciles",
    async () => {
      const w = world({ mark: BOOT - 30_000, healthy: false });
      await watch(w, 2);
      assert.deepEqual(w.calls, [], "not while the node is not healthy");
      w.healthy = true;
      await watch(w, 2);
      assert.deepEqual(w.calls, ["clear i-1", "refresh"]);
      assert.ok(
        w.lines.some((l) => /drain\.cleared instance_id=i-1 reason=healthy_after_boot/.test(l)),
      );
    },
  );

  await t.step("a mark set since this boot (an operator's drain) stays", async () => {
    const w = world({ mark: BOOT + 1000 });
    await watch(w, 3);
    assert.deepEqual(w.calls, []);
  });

  await t.step(
    "a spot instance in an Auto Scaling group reads both notices every poll",
    async () => {
      const w = world({ notices: { spotInstanceAction: undefined, lifecycleState: "InService" } });
      await watch(w, 3);
      assert.deepEqual(w.asked, ["sa", "sa", "sa"]);
    },
  );

  await t.step(
    "an on-demand instance never reads the spot notice; outside a group it asks once a minute",
    async () => {
      const w = world({ lifeCycle: "on-demand" });
      await watch(w, 14); // 14 polls: at 0 s, then every 5 s (nothing can come meanwhile)
      assert.deepEqual(w.asked.map((a, i) => `${i * 5}s:${a}`).filter((a) => !a.endsWith("-")), [
        "0s:a",
        "60s:a",
      ]);
      assert.ok(w.asked.every((a) => !a.includes("s")));
    },
  );

  await t.step("an instance attached to a group later is seen within a minute", async () => {
    const w = world({ lifeCycle: "on-demand" });
    const start = w.now;
    Object.defineProperty(w, "notices", { // attached at +10 s, terminated by the group at +30 s
      get: () => ({
        spotInstanceAction: undefined,
        lifecycleState: w.now - start < 10_000
          ? undefined
          : w.now - start < 30_000
          ? "InService"
          : "Terminated",
      }),
    });
    await watch(w, 62);
    assert.deepEqual(w.calls, ["mark i-1 2026-12-01T12:02:00Z", "refresh"]);
  });

  await t.step("an unknown purchasing option reads the spot notice (the safe side)", async () => {
    const w = world({ lifeCycle: undefined });
    await watch(w, 2);
    assert.ok(w.asked.every((a) => a.startsWith("s")), w.asked.join());
  });

  await t.step("a metadata service that fails is logged once, not once per poll", async () => {
    const w = world({ notices: new Error("connection refused") });
    await watch(w, 4);
    assert.equal(w.lines.filter((l) => /drain\.notice_failed/.test(l)).length, 1);
    assert.deepEqual(w.calls, []);
  });
});

Deno.test("the nat_draining gauge is 1 for a draining NAT and 0 for the others", () => {
  const metrics = createRouterMetrics({ version: "test" });
  const text = metrics.render({
    instances: [
      natInstance("i-1", { drainingSince: Date.now() - 1000 }),
      natInstance("i-2"),
      natInstance("i-3", { drainingSince: Date.now() - 2 * 3600_000 }),
    ],
    routeTables: [],
    health: new Map(),
    decision: undefined,
  });
  assert.match(text, /^aws_nat_router_nat_draining\{instance_id="i-1"\} 1$/m);
  assert.match(text, /^aws_nat_router_nat_draining\{instance_id="i-2"\} 0$/m);
  assert.match(text, /^aws_nat_router_nat_draining\{instance_id="i-3"\} 0$/m, "expired mark");
});
