/**
 * @module Tests for the draining mark and what `decide()` makes of it: a draining NAT is no
 * candidate and never the leader, its tables go where the normal rules send them (same zone
 * first), the draining node writes only its own tables away, and the mark counts only within
 * its expiry; the metadata notices; when a node that came back clears its own mark.
 */
import assert from "node:assert/strict";
import {
  decideSettings,
  instanceHealth,
  natInstance,
  routeTable,
  writtenRoute,
} from "../../tests/fixtures.ts";
import type { NatInstance, RouteTable } from "../model.ts";
import { decide, type DecideSettings, type Decision } from "./decide.ts";
import {
  clearsOwnMark,
  DRAIN_MARK_TTL_MS,
  drainingTagValue,
  GROUP_RECHECK_MS,
  IDLE_WATCH_MS,
  isDraining,
  markCounts,
  NOTICE_POLL_MS,
  noticeReason,
  noticesToAsk,
  parseDrainingTag,
  tablesOn,
  watchPollMs,
} from "./drain.ts";
import { freshMemory } from "./memory.ts";
import { formatStatusTable, statusReport } from "./status.ts";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const SETTINGS = decideSettings({
  ec2Election: true,
  splitBackoffMs: 30_000,
  successionMs: 15_000,
});

function nat(n: number, zone: string, drainingSince?: number): NatInstance {
  return natInstance(`i-${n}`, {
    zone,
    launchTime: n * 1000,
    ...(drainingSince === undefined ? {} : { drainingSince }),
  });
}

function table(n: number, zone: string, on: number): RouteTable {
  return routeTable(`rtb-${n}`, zone, writtenRoute(`i-${on}`));
}

function decideFor(
  instances: NatInstance[],
  tables: RouteTable[],
  self: string | undefined,
  settings: Partial<DecideSettings> = {},
): Decision {
  const health = new Map(instances.map((i) => [
    i.instanceId,
    instanceHealth(true, { successes: 2, since: NOW - 120_000 }),
  ]));
  const result = decide({
    view: { instances, routeTables: tables, health, generation: 1 },
    memory: freshMemory(),
    settings: { ...SETTINGS, ...settings },
    self,
    now: NOW,
  });
  assert.ok(result.decided);
  return result;
}

const moves = (d: Decision) => d.plan.routes.map((c) => `${c.routeTableId}->${c.to}:${c.reason}`);

Deno.test("the draining mark", async (t) => {
  await t.step("parseDrainingTag() reads the ISO time drainingTagValue() writes", () => {
    assert.equal(drainingTagValue(NOW + 456), "2026-12-01T12:00:00Z");
    assert.equal(parseDrainingTag(drainingTagValue(NOW)), NOW);
    assert.equal(parseDrainingTag(" 2026-12-01T12:00:00.250Z "), NOW + 250);
  });

  await t.step("parseDrainingTag() ignores what is not an ISO UTC time", () => {
    for (const text of [undefined, "", "yes", "2026-12-01", "1764590400", "2026-13-01T00:00:00Z"]) {
      assert.equal(parseDrainingTag(text), undefined, String(text));
    }
  });

  await t.step("a mark counts from its time for one hour, and not when far in the future", () => {
    assert.equal(markCounts(undefined, NOW), false);
    assert.equal(markCounts(NOW, NOW), true);
    assert.equal(markCounts(NOW - DRAIN_MARK_TTL_MS + 1, NOW), true);
    assert.equal(markCounts(NOW - DRAIN_MARK_TTL_MS, NOW), false, "expired");
    assert.equal(markCounts(NOW + 60_000, NOW), true, "a minute of clock skew");
    assert.equal(markCounts(NOW + 3_600_000, NOW), false, "an hour ahead: a wrong clock");
    assert.equal(isDraining(nat(1, "a", NOW - 1000), NOW), true);
    assert.equal(isDraining(nat(1, "a"), NOW), false);
  });

  await t.step("tablesOn() lists the tables whose default route points at the instance", () => {
    const tables = [table(1, "a", 1), table(2, "a", 2), table(3, "b", 1)];
    assert.deepEqual(tablesOn(tables, "i-1"), ["rtb-1", "rtb-3"]);
    assert.deepEqual(tablesOn(tables, "i-9"), []);
  });
});

Deno.test("decide() with a draining NAT", async (t) => {
  const a1 = nat(1, "a", NOW - 1000);
  const a2 = nat(2, "a");
  const b3 = nat(3, "b");
  const tables = [table(1, "a", 1), table(2, "a", 2), table(3, "b", 3)];

  await t.step("a draining NAT is no candidate and not the leader, though oldest", () => {
    const d = decideFor([a1, a2, b3], tables, "i-2");
    assert.deepEqual(d.candidates.map((c) => c.instanceId), ["i-2", "i-3"]);
    assert.equal(d.leader, "i-2");
    assert.equal(d.acting, true);
  });

  await t.step("its tables go to the same zone's NAT first, as nat_draining", () => {
    const d = decideFor([a1, a2, b3], tables, "i-2");
    assert.deepEqual(moves(d), ["rtb-1->i-2:nat_draining"]);
  });

  await t.step("with no NAT left in its zone, to the NAT with the fewest tables", () => {
    const b4 = nat(4, "b");
    const d = decideFor(
      [nat(1, "a", NOW - 1000), b3, b4],
      [table(1, "a", 1), table(3, "b", 3), table(4, "b", 4), table(5, "b", 3)],
      "i-3",
    );
    assert.deepEqual(moves(d), ["rtb-1->i-4:nat_draining"]);
  });

  await t.step("the draining node itself writes its own tables away, and nothing else", () => {
    const d = decideFor([a1, a2, b3], [...tables, routeTable("rtb-9", "b")], "i-1");
    assert.equal(d.leader, "i-2");
    assert.equal(d.acting, true, "it acts on its own tables");
    assert.deepEqual(moves(d), ["rtb-1->i-2:nat_draining"], "not rtb-9, the leader's to create");
    assert.deepEqual(d.plan.sourceDestChecks, []);
    assert.deepEqual(d.plan.recoveries, []);
  });

  await t.step("the leader and the draining node plan the same move for its table", () => {
    const byLeader = decideFor([a1, a2, b3], tables, "i-2");
    const byItself = decideFor([a1, a2, b3], tables, "i-1");
    assert.deepEqual(moves(byItself), moves(byLeader));
  });

  await t.step("a follower that is not draining still does nothing", () => {
    const d = decideFor([a1, a2, b3], tables, "i-3");
    assert.equal(d.acting, false);
  });

  await t.step("an expired mark blocks nothing: the NAT keeps its table and leads", () => {
    const expired = nat(1, "a", NOW - DRAIN_MARK_TTL_MS - 1);
    const d = decideFor([expired, a2, b3], tables, "i-1");
    assert.equal(d.leader, "i-1");
    assert.deepEqual(moves(d), []);
  });

  await t.step("when every healthy NAT is draining, no table moves (none to go to)", () => {
    const d = decideFor(
      [nat(1, "a", NOW - 1000), nat(2, "a", NOW - 1000)],
      [table(1, "a", 1), table(2, "a", 2)],
      "i-1",
    );
    assert.equal(d.leader, undefined);
    assert.deepEqual(moves(d), []);
  });
});

Deno.test("planned-departure notices and coming back", async (t) => {
  await t.step("a spot instance-action document is a spot interruption", () => {
    const document = JSON.stringify({ action: "terminate", time: "2026-12-01T12:02:00Z" });
    assert.equal(noticeReason(document, undefined), "spot_interruption");
    assert.equal(
      noticeReason(JSON.stringify({ action: "stop" }), "InService"),
      "spot_interruption",
    );
  });

  await t.step("target-lifecycle-state Terminated is an Auto Scaling termination", () => {
    assert.equal(noticeReason(undefined, "Terminated"), "asg_termination");
    assert.equal(noticeReason(undefined, "Terminated\n"), "asg_termination");
  });

  await t.step("nothing scheduled, in service, or an unreadable document: no notice", () => {
    assert.equal(noticeReason(undefined, undefined), undefined);
    assert.equal(noticeReason(undefined, "InService"), undefined);
    assert.equal(noticeReason(undefined, "Warmed:Terminated"), undefined);
    assert.equal(noticeReason("<html>not json</html>", undefined), undefined);
    assert.equal(noticeReason("{}", undefined), undefined);
  });

  const booted = NOW - 60_000;
  await t.step("a mark set before this boot is cleared once the node is healthy", () => {
    assert.equal(
      clearsOwnMark({ drainingSince: booted - 1000, bootedAt: booted, healthy: true, now: NOW }),
      true,
    );
  });

  await t.step("...not while the node is not healthy yet", () => {
    assert.equal(
      clearsOwnMark({ drainingSince: booted - 1000, bootedAt: booted, healthy: false, now: NOW }),
      false,
    );
  });

  await t.step("a mark set since this boot (an operator's drain) stays until undrain", () => {
    assert.equal(
      clearsOwnMark({ drainingSince: booted + 1000, bootedAt: booted, healthy: true, now: NOW }),
      false,
    );
  });

  await t.step("no mark, or an expired one, is nothing to clear", () => {
    assert.equal(
      clearsOwnMark({ drainingSince: undefined, bootedAt: booted, healthy: true, now: NOW }),
      false,
    );
    assert.equal(
      clearsOwnMark({
        drainingSince: NOW - DRAIN_MARK_TTL_MS - 1,
        bootedAt: booted,
        healthy: true,
        now: NOW,
      }),
      false,
    );
  });

  await t.step("an unknown boot time (0) never clears", () => {
    assert.equal(
      clearsOwnMark({ drainingSince: NOW - 1000, bootedAt: 0, healthy: true, now: NOW }),
      false,
    );
  });
});

Deno.test("status shows a draining NAT as draining", () => {
  const d = decideFor(
    [nat(1, "a", NOW - 1000), nat(2, "a")],
    [table(1, "a", 2)],
    "i-2",
  );
  const report = statusReport(d, { vpcId: "vpc-1", clusterId: "squid" });
  assert.deepEqual(report.nats.map((n) => `${n.instanceId}:${n.health}`), [
    "i-1:draining",
    "i-2:healthy",
  ]);
  assert.match(formatStatusTable(report), /i-1 .*draining/);
});

Deno.test("noticesToAsk() and watchPollMs() ask only for notices that can come", () => {
  const at = NOW;
  const unknown = { lifeCycle: undefined, outsideGroupAt: undefined };
  assert.deepEqual(noticesToAsk(unknown, at), { spot: true, autoScaling: true });
  assert.equal(watchPollMs(unknown), NOTICE_POLL_MS);
  const onDemandOutside = { lifeCycle: "on-demand", outsideGroupAt: at };
  assert.deepEqual(noticesToAsk(onDemandOutside, at + GROUP_RECHECK_MS - 1), {
    spot: false,
    autoScaling: false,
  });
  assert.deepEqual(noticesToAsk(onDemandOutside, at + GROUP_RECHECK_MS), {
    spot: false,
    autoScaling: true,
  });
  assert.equal(watchPollMs(onDemandOutside), IDLE_WATCH_MS);
  const spotOutside = { lifeCycle: "spot", outsideGroupAt: at };
  assert.deepEqual(noticesToAsk(spotOutside, at + 1), { spot: true, autoScaling: false });
  assert.equal(watchPollMs(spotOutside), NOTICE_POLL_MS);
  const onDemandInGroup = { lifeCycle: "on-demand", outsideGroupAt: undefined };
  assert.deepEqual(noticesToAsk(onDemandInGroup, at), { spot: false, autoScaling: true });
  assert.equal(watchPollMs(onDemandInGroup), NOTICE_POLL_MS);
});
