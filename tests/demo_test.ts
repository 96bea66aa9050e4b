/**
 * @module The demo (`scripts/demo.ts`): its screen's pure renderer (`scripts/demo/screen.ts`)
 * on hand-made snapshots, and the demo as a user runs it — a subprocess under the `sim`
 * permission set, stdout not a terminal, the failover scenario only: it exits 0, prints a
 * short log on one clock with the failover time and the summary, and cleans up after itself.
 */
import assert from "node:assert/strict";
import {
  FRESH_MOVE_MS,
  plain,
  renderEvent,
  renderLive,
  renderState,
  visibleWidth,
  whyLines,
} from "../scripts/demo/screen.ts";
import type {
  DemoEvent,
  NatView,
  Snapshot,
  StepView,
  TableView,
} from "../scripts/demo/snapshot.ts";

const ROOT = new URL("../", import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------
// Hand-made snapshots: a1, a2 in zone a, b1 in zone b; three tagged tables.

function nat(name: string, overrides: Partial<NatView> = {}): NatView {
  const rank = { a1: 1, a2: 2, b1: 3 }[name] ?? 9;
  return {
    id: `i-${name}`,
    name,
    zone: `zone-${name[0]}`,
    launchRank: rank,
    actual: "up",
    forwarding: true,
    saidHealthy: 3,
    saidUnhealthy: 0,
    routers: 3,
    errors: [],
    recoveredAtMs: undefined,
    tables: 1,
    router: { name: `router-${rank}`, state: rank === 1 ? "leader" : "follower" },
    ...overrides,
  };
}

function table(id: string, zone: string, target: string, lastMove?: TableView["lastMove"]) {
  return { id, zone, target, lastMove };
}

function step(overrides: Partial<StepView> = {}): StepView {
  return {
    n: 2,
    index: 2,
    count: 4,
    name: "failover",
    title: "b1 goes silent",
    startedAtMs: 15_000,
    faultAtMs: 15_000,
    waitingFor: "b1's tables are on healthy NATs",
    convergedMs: undefined,
    holding: false,
    ...overrides,
  };
}

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    clockMs: 20_000,
    world: "a test world",
    timing: {
      intervalMs: 5000,
      probeIntervalMs: 1000,
      timeoutMs: 500,
      fall: 2,
      rise: 2,
      failbackDelayMs: 5000,
    },
    step: step(),
    nats: [nat("a1"), nat("a2"), nat("b1")],
    tables: [
      table("rtb-a", "zone-a", "i-a1", { atMs: 3_000, from: undefined, reason: "no_route" }),
      table("rtb-b", "zone-b", "i-a2", {
        atMs: 19_500,
        from: "i-b1",
        reason: "nat_unhealthy",
      }),
      table("rtb-c", "zone-c", "i-b1"),
    ],
    others: [{ id: "rtb-untagged", label: "untagged", target: "igw-1" }],
    leader: "i-a1",
    claims: [],
    events: [],
    status: undefined,
    ...overrides,
  };
}

const rowOf = (lines: readonly string[], id: string) => {
  const row = lines.find((line) => plain(line).includes(id));
  assert.ok(row !== undefined, `no line for ${id} in:\n${lines.map(plain).join("\n")}`);
  return row;
};

const SIZE = { columns: 120, rows: 50 };

Deno.test("the demo's screen", async (t) => {
  await t.step("highlights a route moved in this step: where it was, when and why", () => {
    const lines = renderLive(snapshot(), SIZE);
    const moved = rowOf(lines, "rtb-b");
    assert.match(plain(moved), /rtb-b\s+zone-b\s+a2 cross-zone\s+◀ was b1 at \+19\.50s: failover/);
    assert.ok(moved.includes("\x1b[1;7;33m"), "a fresh move is drawn in reverse video");
    const untouched = rowOf(lines, "rtb-a");
    assert.equal(
      untouched,
      plain(untouched),
      "a table moved in an earlier step is not highlighted",
    );
    assert.doesNotMatch(untouched, /◀/);
  });

  await t.step(
    "keeps a move of this step highlighted (bold, not reversed) once it is not fresh",
    () => {
      const later = snapshot({ clockMs: 19_500 + FRESH_MOVE_MS + 1 });
      const moved = rowOf(renderLive(later, SIZE), "rtb-b");
      assert.ok(moved.includes("\x1b[1;33m") && !moved.includes("\x1b[1;7;33m"), moved);
      assert.match(plain(moved), /◀ was b1/);
    },
  );

  await t.step("shows one clock: time since the demo started, not since the step began", () => {
    const failback = snapshot({
      clockMs: 21_500,
      step: step({ n: 4, index: 4, name: "failback", startedAtMs: 18_000, faultAtMs: 20_000 }),
    });
    const [head, , status] = renderLive(failback, SIZE).map(plain);
    assert.match(head ?? "", /^⏱ 21\.5 s /, "the header shows the demo clock");
    assert.match(status ?? "", /t=0 at \+20\.00s · t=1\.50 s/, "the step counts from t=0");
    const event: DemoEvent = {
      kind: "action",
      atMs: 18_010,
      text: "router-1 restarted",
      t0: false,
    };
    assert.match(renderEvent(event, failback)[0] ?? "", /^\[\+18\.01s\]/);
  });

  await t.step("flags a silent NAT the routers still call healthy, and the tables on it", () => {
    const silent = snapshot({
      nats: [nat("a1"), nat("a2"), nat("b1", { actual: "silent", forwarding: false })],
    });
    const lines = renderLive(silent, SIZE, { ansi: false });
    assert.match(rowOf(lines, "b1   ") ?? "", /silent\s+healthy 3\/3 ⚠/);
    assert.match(rowOf(lines, "rtb-c"), /b1 cross-zone ✗ silent: no egress/);
    assert.match(
      whyLines(silent).join("\n"),
      /b1 is silent, but routers still call it healthy \(3\/3\)/,
    );
    const t0: DemoEvent = { kind: "action", atMs: 15_000, text: "b1 goes silent", t0: true };
    assert.match(
      renderEvent(t0, silent).join(" ").replace(/\s+/g, " "),
      /t=0: b1 goes silent ↳ b1 is silent, but routers still call it healthy/,
      "the log says at t=0 that the routers have not noticed yet",
    );
    const fine = snapshot();
    assert.doesNotMatch(renderLive(fine, SIZE, { ansi: false }).join("\n"), /⚠|no egress/);
  });

  await t.step("says a move between two healthy NATs drops the subnet's connections", () => {
    const move = (reason: string, fromForwarding: boolean): DemoEvent => ({
      kind: "route",
      atMs: 21_000,
      routeTableId: "rtb-c",
      zone: "zone-c",
      from: "i-b1",
      to: "i-a1",
      reason,
      fromForwarding,
    });
    const rebalance = move("rebalance", true);
    const lines = renderEvent(rebalance, snapshot({ events: [rebalance] }));
    assert.match(lines[0] ?? "", /rtb-c \(zone-c\): b1 → a1 cross-zone: rebalance/);
    assert.match(
      lines.slice(1).join(" ").replace(/\s+/g, " "),
      /moved off b1 though b1 still forwards \(rebalance\), so the subnet's open connections through b1 are dropped/,
    );
    const failover = move("nat_unhealthy", false);
    assert.equal(renderEvent(failover, snapshot({ events: [failover] })).length, 1);
  });

  await t.step("says when a table moved twice in one step, and why it waited", () => {
    const move = (atMs: number, from: string, to: string): DemoEvent => ({
      kind: "route",
      atMs,
      routeTableId: "rtb-c",
      zone: "zone-c",
      from,
      to,
      reason: "rebalance",
      fromForwarding: true,
    });
    const first = move(21_000, "i-a2", "i-b1");
    const second = move(29_000, "i-b1", "i-a1");
    const later = snapshot({ clockMs: 29_100, events: [first, second] });
    const text = renderEvent(second, later).join(" ").replace(/\s+/g, " ");
    assert.match(text, /rtb-c moved 2 times in this step \(a2 → b1 → a1\)/);
    assert.match(text, /held for failback-delay 5 s, then waits for the leader's next look/);
    const why = whyLines(later).join(" ").replace(/\s+/g, " ");
    assert.match(why, /rtb-c moved off a2 and b1 though they still forward \(rebalance\)/);
    assert.match(why, /rtb-c moved 2 times/);
    const once = renderEvent(first, snapshot({ clockMs: 21_100, events: [first] })).join(" ");
    assert.doesNotMatch(once, /moved 2 times/);
  });

  await t.step("explains why leadership returns to the oldest NAT", () => {
    const back: DemoEvent = { kind: "leader", atMs: 21_000, leader: "i-a1", previous: "i-a2" };
    const text = renderEvent(back, snapshot()).join(" ").replace(/\s+/g, " ");
    assert.match(text, /leader: a1 \(was a2\)/);
    assert.match(
      text,
      /leadership returns to a1: the oldest healthy NAT \(by launch time\) always leads/,
    );
    const away: DemoEvent = { kind: "leader", atMs: 16_000, leader: "i-a2", previous: "i-a1" };
    assert.match(renderEvent(away, snapshot()).join(" "), /a1 is older but down/);
  });

  await t.step("fits the terminal: no more rows, no wider lines", () => {
    const events: DemoEvent[] = Array.from({ length: 12 }, (_, i) => ({
      kind: "action",
      atMs: 15_000 + i,
      text: "something happened that takes a long line to tell, longer than a narrow terminal",
      t0: false,
    }));
    for (const size of [{ columns: 80, rows: 23 }, { columns: 50, rows: 12 }]) {
      const lines = renderLive(snapshot({ events }), size);
      assert.ok(lines.length <= size.rows, `${lines.length} lines for ${size.rows} rows`);
      for (const line of lines) {
        assert.ok(visibleWidth(line) <= size.columns, `too wide for ${size.columns}: ${line}`);
      }
    }
  });

  await t.step("prints the log's state table without escapes", () => {
    const lines = renderState(snapshot());
    assert.ok(lines.every((line) => line === plain(line)));
    assert.match(lines.join("\n"), /NAT\s+ZONE\s+REALLY\s+ROUTERS SAY\s+TABLES\s+ROUTER/);
  });
});

// ---------------------------------------------------------------------------------------------
// The demo as a user runs it

Deno.test("demo --scenario failover prints a short log on one clock, the failover time, and exits 0", async () => {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=sim", "--quiet", "scripts/demo.ts", "--scenario", "failover"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    const context = `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
    assert.ok(!abort.signal.aborted, `the demo did not finish within 60 s${context}`);
    assert.equal(code, 0, `the demo's exit code${context}`);
    assert.ok(!out.includes("\x1b["), "no ANSI escapes when stdout is not a terminal");
    const lines = out.split("\n");
    assert.ok(lines.length < 100, `a short log, not ${lines.length} lines${context}`);
    const stamps = [...out.matchAll(/^\[\+ *(\d+\.\d\d)s\]/gm)].map((m) => Number(m[1]));
    assert.ok(stamps.length > 5, `log lines carry the demo clock${context}`);
    stamps.forEach((stamp, i) =>
      assert.ok(i === 0 || stamp >= stamps[i - 1]!, `the clock went back at ${stamp}${context}`)
    );
    assert.match(out, /ROUTE TABLE\s+ZONE\s+0\.0\.0\.0\/0 →/, `the route table table${context}`);
    assert.match(out, /NAT\s+ZONE\s+REALLY\s+ROUTERS SAY/, `the NAT table${context}`);
    assert.match(
      out,
      /routers agree b1 is down \(3\/3: timeout\)/,
      `the silent NAT seen down${context}`,
    );
    assert.match(out, /leader: a1, all running routers agree/, `the leader${context}`);
    assert.match(
      out,
      /rtb-\S+ \(\S+\): b1 → a\d cross-zone: failover/,
      `a failover move${context}`,
    );
    assert.match(
      out,
      /t=0: b1 goes silent[^]*✓ converged: 2 route tables re-pointed, the last at t=\d+\.\d\d s/,
      `the failover time line${context}`,
    );
    assert.match(
      out,
      /^ {2}2 failover\s+\d+\.\d\d s\s+2\s+2$/m,
      `the summary's failover row${context}`,
    );
    assert.match(out, /writes after a step had converged: 0$/m, `no flapping${context}`);
    assert.doesNotMatch(out, /takeover|failback:/, "only the failover scenario ran");
    assert.match(out, /untagged table rtb-\S+: untouched ✓/);
    assert.match(out, /other VPC table rtb-\S+: untouched ✓/);
    assert.match(out, /routers stopped with SIGTERM: router-1, router-2, router-3 exited 0 ✓/);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("demo rejects an unknown scenario with exit code 2 and starts nothing", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=sim", "--quiet", "scripts/demo.ts", "--scenario", "nope"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.match(new TextDecoder().decode(stderr), /Unknown --scenario "nope": expected one of all/);
});
