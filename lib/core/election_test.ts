/** @module Tests for leader election and the id order of every tie-break. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareIds, type Electable, electLeader } from "./election.ts";

const node = (instanceId: string, launchTime: number): Electable => ({ instanceId, launchTime });

Deno.test("electLeader()", async (t) => {
  const cases: { name: string; healthy: Electable[]; leader: string | undefined }[] = [
    {
      name: "electLeader() names no leader when no instance is healthy",
      healthy: [],
      leader: undefined,
    },
    {
      name: "electLeader() names the only healthy instance",
      healthy: [node("i-b", 5)],
      leader: "i-b",
    },
    {
      name: "electLeader() names the oldest healthy instance by launch time",
      healthy: [node("i-a", 300), node("i-c", 100), node("i-b", 200)],
      leader: "i-c",
    },
    {
      name: "electLeader() breaks a launch-time tie by the smallest instance id",
      healthy: [node("i-c", 100), node("i-a", 100), node("i-b", 100)],
      leader: "i-a",
    },
    {
      name: "electLeader() prefers an older instance over a smaller id",
      healthy: [node("i-a", 200), node("i-z", 100)],
      leader: "i-z",
    },
  ];
  for (const { name, healthy, leader } of cases) {
    await t.step(name, () => assert.equal(electLeader(healthy), leader));
  }
});

Deno.test("compareIds()", async (t) => {
  await t.step("compareIds() orders by code units, never by locale", () => {
    assert.deepEqual(["i-b", "i-B", "i-a", "i-A", "i-10", "i-9"].sort(compareIds), [
      "i-10",
      "i-9",
      "i-A",
      "i-B",
      "i-a",
      "i-b",
    ]);
  });
  await t.step(
    "compareIds() says equal ids are equal",
    () => assert.equal(compareIds("x", "x"), 0),
  );
});

Deno.test("electLeader() properties", async (t) => {
  const fleet = fc.uniqueArray(
    fc.record({
      instanceId: fc.stringMatching(/^i-[0-9a-f]{1,3}$/),
      launchTime: fc.integer({ min: 0, max: 5 }),
    }),
    { selector: (instance) => instance.instanceId, maxLength: 12 },
  );
  const shuffled = fleet.chain((instances) =>
    fc.tuple(
      fc.constant(instances),
      fc.shuffledSubarray(instances, {
        minLength: instances.length,
        maxLength: instances.length,
      }),
    )
  );

  await t.step("electLeader() names the minimum by (launch time, id), whatever the order", () => {
    fc.assert(
      fc.property(shuffled, ([instances, reordered]) => {
        const expected = [...instances].sort((a, b) =>
          a.launchTime - b.launchTime || compareIds(a.instanceId, b.instanceId)
        )[0]?.instanceId;
        assert.equal(electLeader(instances), expected);
        assert.equal(electLeader(reordered), expected);
      }),
      { numRuns: 200 },
    );
  });
});
