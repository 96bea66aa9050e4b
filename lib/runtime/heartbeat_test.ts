/** @module Tests for the heartbeat loop, on a clock the test moves. */
import assert from "node:assert/strict";
import type { Clock } from "../adapters/clock.ts";
import { memoryLogger } from "../adapters/log.ts";
import type { HeartbeatSummary } from "../core/heartbeat.ts";
import { lastOkCycle, runHeartbeat } from "./heartbeat.ts";

/** A clock whose sleeps return at once, having moved time on; `onSleep` sees each one. */
function steppingClock(onSleep: (ms: number, now: number) => void): Clock & { time: number } {
  const clock = {
    time: 1_000_000,
    now: () => clock.time,
    sleep: (ms: number, signal?: AbortSignal) => {
      if (!signal?.aborted) {
        clock.time += Math.max(0, ms);
        onSleep(ms, clock.time);
      }
      return Promise.resolve();
    },
  };
  return clock;
}

const SUMMARY: HeartbeatSummary = {
  leader: "i-a",
  natInstances: 2,
  healthyNats: 2,
  routeTables: 3,
  tablesOnTarget: 3,
  lastOkCycleAt: 1_000_000,
};

Deno.test("runHeartbeat()", async (t) => {
  await t.step("runHeartbeat() logs one router.heartbeat per period until stopped", async () => {
    const log = memoryLogger("info");
    const stop = new AbortController();
    const sleeps: number[] = [];
    const clock = steppingClock((ms) => {
      sleeps.push(ms);
      if (sleeps.length === 3) stop.abort();
    });
    await runHeartbeat({ clock, log, periodMs: 300_000, summary: () => SUMMARY }, stop.signal);
    assert.deepEqual(sleeps, [300_000, 300_000, 300_000]);
    assert.equal(log.lines.length, 2, "no line after the stop");
    assert.match(
      log.lines[0] ?? "",
      /INFO router\.heartbeat leader=i-a nat_instances=2 healthy_nats=2 route_tables=3 tables_on_target=3 last_ok_cycle=\S+Z last_ok_cycle_age_s=300$/,
    );
    assert.match(log.lines[1] ?? "", /last_ok_cycle_age_s=600$/);
  });

  await t.step("runHeartbeat() asks summary() afresh for every line", async () => {
    const log = memoryLogger("info");
    const stop = new AbortController();
    let beats = 0;
    const clock = steppingClock(() => void (beats === 2 && stop.abort()));
    const summary = () => ({ ...SUMMARY, healthyNats: ++beats });
    await runHeartbeat({ clock, log, periodMs: 60_000, summary }, stop.signal);
    assert.deepEqual(log.lines.map((l) => /healthy_nats=(\d+)/.exec(l)?.[1]), ["1", "2"]);
  });

  await t.step("runHeartbeat() keeps its cadence when a line comes late", async () => {
    const log = memoryLogger("info");
    const stop = new AbortController();
    const sleeps: number[] = [];
    const clock = steppingClock((ms) => {
      sleeps.push(ms);
      if (sleeps.length === 1) clock.time += 10_000; // the first wake-up is 10s late
      if (sleeps.length === 2) clock.time += 500_000; // the host was suspended
      if (sleeps.length === 3) stop.abort();
    });
    await runHeartbeat({ clock, log, periodMs: 60_000, summary: () => SUMMARY }, stop.signal);
    assert.deepEqual(sleeps, [60_000, 50_000, 60_000]);
  });

  await t.step("runHeartbeat() logs nothing when stopped before its first period", async () => {
    const log = memoryLogger("info");
    const stop = new AbortController();
    stop.abort();
    const clock = steppingClock(() => assert.fail("no sleep after the stop"));
    await runHeartbeat({ clock, log, periodMs: 1_000, summary: () => SUMMARY }, stop.signal);
    assert.deepEqual(log.lines, []);
  });

  await t.step("runHeartbeat() writes at info: silent under --log-level warn", async () => {
    const log = memoryLogger("warn");
    const stop = new AbortController();
    const clock = steppingClock((_, now) => void (now > 1_000_000 + 2_000 && stop.abort()));
    await runHeartbeat({ clock, log, periodMs: 1_000, summary: () => SUMMARY }, stop.signal);
    assert.deepEqual(log.lines, []);
  });
});

Deno.test("lastOkCycle() remembers the last cycle that succeeded", () => {
  const last = lastOkCycle();
  assert.equal(last.at(), undefined);
  last.cycle({ ok: true, at: 10 });
  last.cycle({ ok: false, at: 20 });
  assert.equal(last.at(), 10);
  last.cycle({ ok: true, at: 30 });
  assert.equal(last.at(), 30);
});
