/** @module Tests for the health tracker: thresholds, transitions, hold-down and helpers. */
import assert from "node:assert/strict";
import {
  allDecided,
  candidates,
  type HealthOptions,
  type HealthState,
  type HealthTransition,
  needsConfirmation,
  nextBeat,
  nextSettleTime,
  observe,
  retain,
} from "./health.ts";
import { natInstance } from "../../tests/fixtures.ts";
import type { ProbeResult } from "../model.ts";

const ok = (instanceId: string, latencyMs = 1): ProbeResult => ({
  instanceId,
  healthy: true,
  error: undefined,
  latencyMs,
});

const fail = (instanceId: string, error = "refused"): ProbeResult => ({
  instanceId,
  healthy: false,
  error,
  latencyMs: 500,
});

const ONE_PROBE: HealthOptions = { fall: 1, rise: 1, failbackDelayMs: 0 };
const STRICT: HealthOptions = { fall: 3, rise: 2, failbackDelayMs: 30_000 };

/** Feeds probe rounds one second apart, from t = 0, and gathers every transition. */
function run(
  rounds: readonly (readonly ProbeResult[])[],
  options: HealthOptions,
  start: HealthState = new Map(),
) {
  let state = start;
  const transitions: HealthTransition[] = [];
  rounds.forEach((results, round) => {
    const observed = observe(state, results, round * 1000, options);
    state = observed.state;
    transitions.push(...observed.transitions);
  });
  return { state, transitions };
}

Deno.test("observe()", async (t) => {
  const cases: {
    name: string;
    options: HealthOptions;
    rounds: ProbeResult[][];
    verdicts: Record<string, boolean | undefined>;
    transitions: [string, boolean, boolean | undefined, string | undefined][];
  }[] = [
    {
      name: "observe() with fall=1 rise=1 gives every first probe its verdict",
      options: ONE_PROBE,
      rounds: [[ok("i-a"), fail("i-b", "timeout")]],
      verdicts: { "i-a": true, "i-b": false },
      transitions: [["i-a", true, undefined, undefined], ["i-b", false, undefined, "timeout"]],
    },
    {
      name: "observe() with fall=1 rise=1 follows every probe",
      options: ONE_PROBE,
      rounds: [[ok("i-a")], [fail("i-a")], [ok("i-a")]],
      verdicts: { "i-a": true },
      transitions: [
        ["i-a", true, undefined, undefined],
        ["i-a", false, true, "refused"],
        ["i-a", true, false, undefined],
      ],
    },
    {
      name: "observe() gives no verdict before rise successes",
      options: STRICT,
      rounds: [[ok("i-a")]],
      verdicts: { "i-a": undefined },
      transitions: [],
    },
    {
      name: "observe() makes a new instance healthy after rise successes in a row",
      options: STRICT,
      rounds: [[ok("i-a")], [ok("i-a")]],
      verdicts: { "i-a": true },
      transitions: [["i-a", true, undefined, undefined]],
    },
    {
      name: "observe() makes a new instance unhealthy after fall failures in a row",
      options: STRICT,
      rounds: [[fail("i-a")], [fail("i-a")], [fail("i-a", "timeout")]],
      verdicts: { "i-a": false },
      transitions: [["i-a", false, undefined, "timeout"]],
    },
    {
      name: "observe() keeps a healthy instance healthy through fewer than fall failures",
      options: STRICT,
      rounds: [[ok("i-a")], [ok("i-a")], [fail("i-a")], [fail("i-a")]],
      verdicts: { "i-a": true },
      transitions: [["i-a", true, undefined, undefined]],
    },
    {
      name: "observe() restarts the failure count after a single success",
      options: STRICT,
      rounds: [[ok("i-a")], [ok("i-a")], [fail("i-a")], [fail("i-a")], [ok("i-a")], [fail("i-a")], [
        fail("i-a"),
      ]],
      verdicts: { "i-a": true },
      transitions: [["i-a", true, undefined, undefined]],
    },
    {
      name: "observe() makes a healthy instance unhealthy after fall failures in a row",
      options: STRICT,
      rounds: [[ok("i-a")], [ok("i-a")], [fail("i-a")], [fail("i-a")], [fail("i-a")]],
      verdicts: { "i-a": false },
      transitions: [["i-a", true, undefined, undefined], ["i-a", false, true, "refused"]],
    },
    {
      name: "observe() restarts the success count after a single failure",
      options: STRICT,
      rounds: [[fail("i-a")], [fail("i-a")], [fail("i-a")], [ok("i-a")], [fail("i-a")], [
        ok("i-a"),
      ]],
      verdicts: { "i-a": false },
      transitions: [["i-a", false, undefined, "refused"]],
    },
    {
      name: "observe() makes an unhealthy instance healthy after rise successes in a row",
      options: STRICT,
      rounds: [[fail("i-a")], [fail("i-a")], [fail("i-a")], [ok("i-a")], [ok("i-a")]],
      verdicts: { "i-a": true },
      transitions: [["i-a", false, undefined, "refused"], ["i-a", true, false, undefined]],
    },
    {
      name: "observe() keeps the state of instances it has no result for",
      options: ONE_PROBE,
      rounds: [[ok("i-a"), fail("i-b")], [fail("i-a")]],
      verdicts: { "i-a": false, "i-b": false },
      transitions: [
        ["i-a", true, undefined, undefined],
        ["i-b", false, undefined, "refused"],
        ["i-a", false, true, "refused"],
      ],
    },
    {
      name: "observe() reports transitions in instance id order",
      options: ONE_PROBE,
      rounds: [[ok("i-c"), ok("i-a"), ok("i-b")]],
      verdicts: { "i-a": true, "i-b": true, "i-c": true },
      transitions: ["i-a", "i-b", "i-c"].map((id) => [id, true, undefined, undefined]),
    },
  ];
  for (const { name, options, rounds, verdicts, transitions } of cases) {
    await t.step(name, () => {
      const outcome = run(rounds, options);
      for (const [instanceId, healthy] of Object.entries(verdicts)) {
        assert.equal(outcome.state.get(instanceId)?.healthy, healthy, `verdict of ${instanceId}`);
      }
      assert.deepEqual(
        outcome.transitions.map((x) => [x.instanceId, x.healthy, x.previous, x.error]),
        transitions,
      );
    });
  }

  await t.step(
    "observe() records when the verdict changed, the last error and the last latency",
    () => {
      const { state } = run([[fail("i-a", "timeout")], [fail("i-a")], [fail("i-a")], [
        ok("i-a", 7),
      ]], STRICT);
      assert.deepEqual(state.get("i-a"), {
        healthy: false,
        successes: 1,
        failures: 0,
        since: 2000,
        wasUnhealthy: true,
        wasHealthy: false,
        lastError: "refused",
        lastLatencyMs: 7,
      });
    },
  );
  await t.step("observe() remembers a healthy verdict once reached, through later failures", () => {
    const { state } = run(
      [[ok("i-a")], [ok("i-a")], [fail("i-a")], [fail("i-a")], [fail("i-a")]],
      STRICT,
    );
    assert.equal(state.get("i-a")?.healthy, false);
    assert.equal(state.get("i-a")?.wasHealthy, true);
  });
  await t.step("observe() leaves the state it was given unchanged", () => {
    const before: HealthState = new Map();
    observe(before, [ok("i-a")], 0, ONE_PROBE);
    assert.equal(before.size, 0);
  });
});

Deno.test("candidates()", async (t) => {
  const fleet = [
    natInstance("i-b", { zone: "az-b" }),
    natInstance("i-a", { zone: "az-a" }),
    natInstance("i-c"),
    natInstance("i-d"),
  ];
  const options: HealthOptions = { fall: 1, rise: 1, failbackDelayMs: 10_000 };
  // t=0: a, b healthy, c unhealthy; t=1000: c healthy again; d never probed.
  const { state } = run([[ok("i-a"), ok("i-b"), fail("i-c")], [ok("i-c")]], options);
  const view = (now: number) =>
    candidates(state, fleet, now, options).map((c) => [c.instanceId, c.zone, c.recovering]);

  await t.step("candidates() offers the healthy instances, in id order, with their zone", () => {
    assert.deepEqual(view(1000), [["i-a", "az-a", false], ["i-b", "az-b", false], [
      "i-c",
      "az-a",
      true,
    ]]);
  });
  await t.step("candidates() never marks an instance first seen healthy as recovering", () => {
    assert.deepEqual(
      view(1000).filter(([id]) => id !== "i-c").map(([, , recovering]) => recovering),
      [
        false,
        false,
      ],
    );
  });
  await t.step(
    "candidates() marks a recovered instance settled once the hold-down has passed",
    () => {
      assert.deepEqual(view(10_999).at(-1), ["i-c", "az-a", true]);
      assert.deepEqual(view(11_000).at(-1), ["i-c", "az-a", false]);
    },
  );
  await t.step("candidates() offers only instances it was given", () => {
    assert.deepEqual(
      candidates(state, [natInstance("i-a")], 1000, options).map((c) => c.instanceId),
      [
        "i-a",
      ],
    );
  });
});

Deno.test("health helpers", async (t) => {
  const { state } = run([[ok("i-a"), ok("i-b"), fail("i-c"), ok("i-d")], [
    ok("i-a"),
    fail("i-b"),
    fail("i-c"),
  ]], {
    ...STRICT,
    rise: 1,
  });
  // i-a healthy and confirmed; i-b healthy but just failed; i-c undecided (2 < fall); i-d healthy.

  await t.step("needsConfirmation() asks again for an instance without a verdict", () => {
    assert.equal(needsConfirmation(state, "i-c"), true);
    assert.equal(needsConfirmation(state, "i-unknown"), true);
  });
  await t.step(
    "needsConfirmation() asks again when the latest probe disagrees with the verdict",
    () => {
      assert.equal(needsConfirmation(state, "i-b"), true);
    },
  );
  await t.step(
    "needsConfirmation() is satisfied when the latest probe agrees with the verdict",
    () => {
      assert.equal(needsConfirmation(state, "i-a"), false);
    },
  );
  await t.step("allDecided() says whether every given instance has a verdict", () => {
    assert.equal(allDecided(state, ["i-a", "i-b", "i-d"]), true);
    assert.equal(allDecided(state, ["i-a", "i-c"]), false);
    assert.equal(allDecided(state, []), true);
  });
  await t.step("retain() forgets the instances that are gone", () => {
    assert.deepEqual([...retain(state, ["i-a", "i-gone"]).keys()], ["i-a"]);
  });
});

Deno.test("nextSettleTime()", async (t) => {
  const options: HealthOptions = { fall: 1, rise: 1, failbackDelayMs: 10_000 };
  await t.step("nextSettleTime() is when the earliest recovering instance leaves hold-down", () => {
    // i-a recovers at t=1000, i-b at t=2000.
    const { state } = run(
      [[fail("i-a"), fail("i-b"), ok("i-c")], [ok("i-a")], [ok("i-b")]],
      options,
    );
    assert.equal(nextSettleTime(state, 2000, options), 11_000);
    assert.equal(nextSettleTime(state, 11_000, options), 12_000);
  });
  await t.step("nextSettleTime() is undefined when no instance is recovering", () => {
    const { state } = run([[ok("i-a"), fail("i-b")]], options);
    assert.equal(nextSettleTime(state, 0, options), undefined);
  });
});

Deno.test("nextBeat() puts every probe loop on one grid of the probe interval", () => {
  // On the grid, a loop keeps its period; a timer a little early or late keeps the beat.
  assert.equal(nextBeat(6_000, 600), 6_600);
  assert.equal(nextBeat(5_999, 600), 6_600);
  assert.equal(nextBeat(6_004, 600), 6_600);
  // Loops that started apart (new NATs found at different reads) meet on the same beats.
  const beats = (start: number) => {
    const at = [start];
    while (at.length < 4) at.push(nextBeat(at.at(-1)!, 600));
    return at.slice(1);
  };
  assert.deepEqual(beats(6_130), [6_600, 7_200, 7_800]);
  assert.deepEqual(beats(6_410), [7_200, 7_800, 8_400]);
  // Joining the grid never checks sooner than half a period, nor later than one and a half.
  for (const start of [6_001, 6_299, 6_300, 6_599]) {
    const gap = nextBeat(start, 600) - start;
    assert.ok(gap >= 300 && gap <= 900, `${start} → ${gap} ms`);
  }
  // The half period of a verdict waiting for confirmation beats on the same grid.
  assert.equal(nextBeat(6_600, 300), 6_900);
});
