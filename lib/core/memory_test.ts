/** @module Tests for the node's memory: read-your-writes, change notes, roles, and pruning. */
import assert from "node:assert/strict";
import { instanceHealth, natInstance, route } from "../../tests/fixtures.ts";
import type { HealthState } from "./health.ts";
import type { RouteChange, RouteTable } from "../model.ts";
import {
  activeFights,
  type Discovery,
  findFights,
  freshMemory,
  MAX_SPLIT_BACKOFF_MS,
  type Memory,
  noteChanges,
  notRecentlyIssued,
  overlayRecentWrites,
  recentlyChanged,
  rememberApplied,
  rememberDiscovery,
  rememberFights,
  rememberRole,
} from "./memory.ts";

const table = (id: string, instanceId?: string): RouteTable => ({
  routeTableId: id,
  zone: "us-east-1a",
  defaultRoute: instanceId === undefined
    ? undefined
    : route({ instanceId, networkInterfaceId: `eni-${instanceId.slice(2)}` }),
});
const change = (routeTableId: string, to: string): RouteChange => ({
  action: "replace",
  routeTableId,
  destinationCidrBlock: "0.0.0.0/0",
  from: undefined,
  to,
  networkInterfaceId: `eni-${to.slice(2)}`,
  reason: "nat_unhealthy",
});
const SETTINGS = { writeTrustMs: 5000, recoveryAfterMs: 60_000, splitBackoffMs: 240_000 };

/** A read of EC2 showing `discovered`, with `instanceIds` running and healthy unless said. */
function read(
  previous: RouteTable[] | undefined,
  discovered: RouteTable[],
  instanceIds: string[],
  now: number,
  health: HealthState = new Map(),
): Discovery {
  return { previous, discovered, instances: instanceIds.map((id) => natInstance(id)), health, now };
}
const wrote = (changes: RouteChange[], at: number): Memory =>
  rememberApplied(freshMemory(), { routes: changes, sourceDestChecks: [], recoveries: [] }, at, at);

Deno.test("overlayRecentWrites()", async (t) => {
  const recent = wrote([change("rtb-1", "i-b")], 1000).recentWrites;

  await t.step("trusts a fresh write over a stale read", () => {
    const { routeTables, recentWrites } = overlayRecentWrites(
      [table("rtb-1", "i-a")],
      recent,
      2000,
      5000,
    );
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-b");
    assert.equal(recentWrites.size, 1, "the write stays remembered until EC2 shows it");
  });

  await t.step("forgets a write once the read shows it", () => {
    const { routeTables, recentWrites } = overlayRecentWrites(
      [table("rtb-1", "i-b")],
      recent,
      2000,
      5000,
    );
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-b");
    assert.equal(recentWrites.size, 0);
  });

  await t.step("lets EC2's answer stand after the window", () => {
    const { routeTables, recentWrites } = overlayRecentWrites([table("rtb-1")], recent, 7000, 5000);
    assert.equal(
      routeTables[0]?.defaultRoute,
      undefined,
      "a route deleted behind our back shows as deleted",
    );
    assert.equal(recentWrites.size, 0);
  });

  await t.step("leaves tables it did not write alone", () => {
    const { routeTables } = overlayRecentWrites([table("rtb-2", "i-a")], recent, 2000, 5000);
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-a");
  });
});

Deno.test("change notes for the ping-pong hold-down", async (t) => {
  await t.step(
    "noteChanges() notes a changed target, keeps old notes, ignores the first view",
    () => {
      const first = noteChanges(new Map(), undefined, [table("rtb-1", "i-a")], 100);
      assert.equal(first.size, 0);
      const second = noteChanges(first, [table("rtb-1", "i-a"), table("rtb-2", "i-a")], [
        table("rtb-1", "i-b"),
        table("rtb-2", "i-a"),
      ], 200);
      assert.deepEqual([...second], [["rtb-1", 200]]);
      const third = noteChanges(second, [table("rtb-1", "i-b")], [table("rtb-1", "i-b")], 300);
      assert.deepEqual([...third], [["rtb-1", 200]], "an unchanged route keeps its note");
      assert.equal(
        noteChanges(third, [table("rtb-1", "i-b")], [], 400).size,
        0,
        "gone tables drop",
      );
    },
  );

  await t.step("recentlyChanged() keeps only changes inside the window", () => {
    const memory = { ...freshMemory(), changedAt: new Map([["rtb-1", 1000], ["rtb-2", 5000]]) };
    assert.deepEqual([...recentlyChanged(memory, 6000, 2000)], ["rtb-2"]);
  });

  await t.step("rememberApplied() notes a written table at the decision's time", () => {
    const memory = rememberApplied(
      freshMemory(),
      {
        routes: [change("rtb-1", "i-b")],
        sourceDestChecks: [],
        recoveries: [],
      },
      1000,
      1200,
    );
    assert.deepEqual([...memory.changedAt], [["rtb-1", 1000]]);
    assert.equal(memory.recentWrites.get("rtb-1")?.at, 1200, "trusted from when it was written");
  });
});

Deno.test("rememberRole()", async (t) => {
  await t.step("a node that stops acting forgets its writes and notes the view", () => {
    const memory = rememberRole(
      { ...wrote([change("rtb-1", "i-b")], 1000), acting: true },
      false,
      7,
    );
    assert.equal(memory.recentWrites.size, 0, "EC2's answer stands once another node may write");
    assert.equal(memory.acting, false);
    assert.equal(memory.followedOn, 7);
  });

  await t.step("a node that keeps acting keeps its writes", () => {
    const before = { ...wrote([change("rtb-1", "i-b")], 1000), acting: true };
    assert.equal(rememberRole(before, true, 8), before);
  });
});

Deno.test("source/destination check calls are not repeated within the trust window", () => {
  const check = { instanceId: "i-a", networkInterfaceId: undefined };
  const memory = rememberApplied(
    freshMemory(),
    {
      routes: [],
      sourceDestChecks: [check],
      recoveries: [],
    },
    1000,
    1000,
  );
  assert.deepEqual(notRecentlyIssued(memory, [check], 5999, 5000), [], "inside the window");
  assert.deepEqual(notRecentlyIssued(memory, [check], 6000, 5000), [check], "after it");
  assert.deepEqual(
    notRecentlyIssued(memory, [{ instanceId: "i-a", networkInterfaceId: "eni-2" }], 2000, 5000)
      .length,
    1,
    "another interface of the same instance is its own call",
  );
});

Deno.test("memory is pruned as instances and tables come and go", async (t) => {
  await t.step("a thousand cycles of churning fleets leave only what is current", () => {
    let memory = freshMemory(0);
    let previous: RouteTable[] | undefined;
    for (let cycle = 0; cycle < 1000; cycle++) {
      const now = cycle * 1000;
      const instanceId = `i-${cycle}`;
      const tables = [table(`rtb-${cycle}`, instanceId), table(`rtb-${cycle + 1}`, instanceId)];
      const seen = rememberDiscovery(memory, read(previous, tables, [instanceId], now), SETTINGS);
      previous = seen.routeTables;
      memory = rememberApplied(
        seen.memory,
        {
          routes: [change(`rtb-${cycle + 1}`, instanceId)],
          sourceDestChecks: [{ instanceId, networkInterfaceId: undefined }],
          recoveries: [{ action: "reboot", instanceId, unhealthyForMs: 0 }],
        },
        now,
        now,
      );
    }
    assert.ok(memory.changedAt.size <= 2, `changedAt kept ${memory.changedAt.size} tables`);
    assert.ok(memory.recentWrites.size <= 2, `recentWrites kept ${memory.recentWrites.size}`);
    assert.ok(
      memory.sourceDestChecks.size <= 2,
      `sourceDestChecks kept ${memory.sourceDestChecks.size}`,
    );
    assert.ok(memory.recoveries.size <= 2, `recoveries kept ${memory.recoveries.size}`);
  });

  await t.step("a recovery stays remembered while its instance exists and the window lasts", () => {
    const memory = rememberApplied(
      freshMemory(),
      {
        routes: [],
        sourceDestChecks: [],
        recoveries: [{ action: "reboot", instanceId: "i-a", unhealthyForMs: 0 }],
      },
      1000,
      1000,
    );
    const inWindow = rememberDiscovery(memory, read([], [], ["i-a"], 30_000), SETTINGS).memory;
    assert.deepEqual([...inWindow.recoveries], [["i-a", 1000]]);
    const after = rememberDiscovery(memory, read([], [], ["i-a"], 61_000), SETTINGS).memory;
    assert.equal(after.recoveries.size, 0, "past --recovery-after it no longer matters");
    const gone = rememberDiscovery(memory, read([], [], [], 30_000), SETTINGS).memory;
    assert.equal(gone.recoveries.size, 0, "a vanished instance is forgotten");
  });
});

Deno.test("a failed route write is not retried before EC2 is read again", () => {
  const failed = rememberApplied(
    freshMemory(),
    {
      routes: [],
      sourceDestChecks: [],
      recoveries: [],
      failedRoutes: { routeTableIds: ["rtb-1"], generation: 3 },
    },
    1000,
    1000,
  );
  assert.deepEqual([...failed.failedWrites], [["rtb-1", 3]]);
  const reread = rememberDiscovery(failed, read([], [table("rtb-1")], [], 2000), SETTINGS).memory;
  assert.equal(reread.failedWrites.size, 0, "a fresh read clears it");
});

Deno.test("a suspected split: a table this node wrote, moved to a NAT it sees unhealthy", async (t) => {
  // This node (i-a) wrote rtb-1 to itself; i-b cannot be reached from here.
  // ...and saw i-b down already at the read before the one that shows the move.
  const wroteIt = {
    ...rememberApplied(
      freshMemory(),
      {
        routes: [change("rtb-1", "i-a")],
        sourceDestChecks: [],
        recoveries: [],
      },
      1000,
      1000,
    ),
    previousReadAt: 1000,
  };
  const down: HealthState = new Map([
    ["i-a", instanceHealth(true)],
    ["i-b", instanceHealth(false)],
  ]);
  const view = (health: HealthState, instanceIds = ["i-a", "i-b"]) => ({
    instances: instanceIds.map((id) => natInstance(id)),
    routeTables: [table("rtb-1", "i-b")],
    health,
  });

  await t.step("is noticed, with a back-off that starts at splitBackoffMs", () => {
    const found = findFights(wroteIt, view(down), 5000, 240_000);
    assert.deepEqual(found.noticed.map((f) => [f.routeTableId, f.movedTo, f.count, f.until]), [
      ["rtb-1", "i-b", 1, 5000 + 240_000],
    ]);
    const memory = rememberFights(wroteIt, found);
    assert.deepEqual(activeFights(memory, 6000).map((f) => f.routeTableId), ["rtb-1"]);
    assert.deepEqual(activeFights(memory, 245_000), [], "over once the back-off ends");
  });

  await t.step("is noticed once per move, and the back-off doubles on the next fight", () => {
    const memory = rememberFights(wroteIt, findFights(wroteIt, view(down), 5000, 240_000));
    assert.deepEqual(findFights(memory, view(down), 10_000, 240_000).noticed, [], "same move");
    const rewrote = rememberApplied(
      memory,
      {
        routes: [change("rtb-1", "i-a")],
        sourceDestChecks: [],
        recoveries: [],
      },
      300_000,
      300_000,
    );
    const second = findFights(rewrote, view(down), 305_000, 240_000);
    assert.deepEqual(second.noticed.map((f) => [f.count, f.until - f.at]), [[2, 480_000]]);
  });

  await t.step("is not a split when the new target is healthy here: the table moved on", () => {
    const agreed = new Map([...down, ["i-b", instanceHealth(true)]]);
    const found = findFights(wroteIt, view(agreed), 5000, 240_000);
    assert.deepEqual(found, { noticed: [], released: ["rtb-1"], healed: [] });
    assert.equal(rememberFights(wroteIt, found).written.has("rtb-1"), false, "not ours now");
  });

  await t.step("is not a split while the latest probe of the new target succeeded", () => {
    const comingBack = new Map([...down, ["i-b", instanceHealth(false, { successes: 1 })]]);
    assert.deepEqual(findFights(wroteIt, view(comingBack), 5000, 240_000).noticed, []);
  });

  await t.step("is not a split when the target was up at the read before: it failed after", () => {
    // i-b failed at 1500, after the read at 1000: the move may have come first. The same when
    // i-b was down at that read, came back, took the table, and failed again at 1500.
    const failedLate = new Map([...down, ["i-b", instanceHealth(false, { since: 1500 })]]);
    const found = findFights(wroteIt, view(failedLate), 5000, 240_000);
    assert.deepEqual(found.noticed, []);
    assert.deepEqual(found.released, ["rtb-1"]);
    const later = { ...rememberFights(wroteIt, found), previousReadAt: 5000 };
    assert.deepEqual(
      findFights(later, view(failedLate), 10_000, 240_000).noticed,
      [],
      "nor at the next read: the move is the other node's, not a new fight",
    );
  });

  await t.step("is noticed on a table that was on this node, moved away by another", () => {
    const wasMine = {
      ...freshMemory(),
      routedBefore: new Map([["rtb-1", "i-a"]]),
      previousReadAt: 1000,
    };
    const found = findFights(wasMine, view(down), 5000, 240_000, "i-a");
    assert.deepEqual(found.noticed.map((f) => [f.routeTableId, f.movedTo]), [["rtb-1", "i-b"]]);
    const noticed = rememberFights(wasMine, found);
    assert.deepEqual(
      findFights(noticed, view(down), 6000, 240_000, "i-a").noticed,
      [],
      "noticed once: a second look at the same view is not a second fight",
    );
    assert.deepEqual(
      findFights(wasMine, view(down), 5000, 240_000, "i-c").noticed,
      [],
      "not a table of this node (i-c): its move is none of this node's business",
    );
  });

  await t.step("is not a split when the table goes to something not a running NAT", () => {
    assert.deepEqual(findFights(wroteIt, view(down, ["i-a"]), 5000, 240_000).noticed, []);
  });

  await t.step("is forgotten with its table", () => {
    const memory = rememberFights(wroteIt, findFights(wroteIt, view(down), 5000, 240_000));
    const gone = rememberDiscovery(
      memory,
      read([table("rtb-1", "i-b")], [], ["i-a", "i-b"], 6000),
      SETTINGS,
    );
    assert.equal(gone.memory.fights.size + gone.memory.written.size, 0);
  });
});

Deno.test("a fight is forgotten once this node sees the other node's target healthy", () => {
  const fight = { routeTableId: "rtb-1", movedTo: "i-b", count: 2, at: 1000, until: 500_000 };
  const memory = { ...freshMemory(), fights: new Map([["rtb-1", fight]]) };
  const found = findFights(
    memory,
    {
      instances: [natInstance("i-a"), natInstance("i-b")],
      routeTables: [table("rtb-1", "i-b")],
      health: new Map([["i-a", instanceHealth(true)], ["i-b", instanceHealth(true)]]),
    },
    2000,
    240_000,
  );
  assert.deepEqual(found.healed, ["rtb-1"]);
  assert.equal(rememberFights(memory, found).fights.size, 0, "a later fight starts from one");
});

Deno.test("rememberDiscovery() keeps when EC2 was read, and the time before", () => {
  const first = rememberDiscovery(freshMemory(), read(undefined, [], ["i-a"], 1000), SETTINGS);
  assert.deepEqual([first.memory.readAt, first.memory.previousReadAt], [1000, undefined]);
  const second = rememberDiscovery(first.memory, read([], [], ["i-a"], 2000), SETTINGS);
  assert.deepEqual([second.memory.readAt, second.memory.previousReadAt], [2000, 1000]);
});

Deno.test("a NAT this node sees down but another node routes to is contested", async (t) => {
  const ids = ["i-a", "i-b"];
  // i-b fails at 1500, between the reads at 1000 and 2000.
  const bDown = new Map([["i-a", instanceHealth(true)], [
    "i-b",
    instanceHealth(false, { since: 1500 }),
  ]]);
  const allUp = new Map([["i-a", instanceHealth(true)], ["i-b", instanceHealth(true)]]);
  const remember = (memory: Memory, tables: RouteTable[], at: number, health = bDown) =>
    rememberDiscovery(memory, read(undefined, tables, ids, at, health), SETTINGS).memory;
  const onA = remember(freshMemory(), [table("rtb-1", "i-a")], 1000, allUp);

  await t.step("a table moved to it, not by this node: contested", () => {
    const after = remember(onA, [table("rtb-1", "i-b")], 2000);
    assert.deepEqual([...after.contested], [["i-b", 2000]]);
  });
  await t.step("a table this node moved there itself: not a sign", () => {
    const mine = rememberApplied(
      onA,
      {
        routes: [change("rtb-1", "i-b")],
        sourceDestChecks: [],
        recoveries: [],
      },
      1500,
      1500,
    );
    assert.equal(remember(mine, [table("rtb-1", "i-b")], 2000).contested.size, 0);
  });
  await t.step("the first read after it failed, its table not yet moved: not a sign", () => {
    const onB = remember(freshMemory(), [table("rtb-1", "i-b")], 1000, allUp);
    const failed = remember(onB, [table("rtb-1", "i-b")], 2000);
    assert.equal(failed.contested.size, 0, "the leader may not have moved it yet");
    const still = remember(failed, [table("rtb-1", "i-b")], 3000);
    assert.deepEqual([...still.contested.keys()], ["i-b"], "a read later it is still there");
  });
  await t.step(
    "forgotten once seen healthy, or the longest back-off and one more after the last sign",
    () => {
      const contested = remember(onA, [table("rtb-1", "i-b")], 2000);
      assert.equal(remember(contested, [table("rtb-1", "i-a")], 3000, allUp).contested.size, 0);
      // A peer's back-off lasts up to MAX_SPLIT_BACKOFF_MS: no sign for that long proves little.
      const window = MAX_SPLIT_BACKOFF_MS + 240_000;
      const quiet = remember(contested, [table("rtb-1", "i-a")], 2000 + window);
      assert.equal(quiet.contested.size, 0, "no sign for that long");
      const kept = remember(contested, [table("rtb-1", "i-a")], 2000 + window - 1000);
      assert.equal(kept.contested.size, 1);
    },
  );
});
