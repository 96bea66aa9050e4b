/**
 * "Never make egress worse", in the namespace world where each fault is a network fault:
 * - a fleet launched with source/dest check on everywhere starts with `--self-check`;
 * - two NATs that cannot reach each other's health port do not fight, never recover each
 *   other, and traffic keeps leaving through some NAT all along;
 * - the leader's router stopped while its squid answers does not stop failover;
 * - the NATs' own subnet's tables and a public table are never written, and the NATs keep
 *   their own internet path.
 * Every packet check reads the sink; every write check reads the EC2 endpoint's call log.
 * Behaviour only: the blackout figure is reported here and measured by the data-plane bench.
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { faultAndMove, zoneAllocation } from "./netns/faults.ts";
import { netnsAvailable, NetWorld, sleep } from "./netns/world.ts";

// deno-lint-ignore no-console
const report = (line: string) => console.error(line);
const available = await netnsAvailable(report);

/** How long the symmetric health-port partition lasts: the five minutes. */
const PARTITION_MS = 300_000;
/** Route moves a table may see in total while two nodes cannot see each other (the issue's). */
const MAX_PARTITION_MOVES = 3;
/**
 * The longest a subnet may go without a datagram at the sink while only the health port is
 * partitioned. Both NATs keep forwarding, so the only interruption is a route move: the VPC
 * router applies it within one 10 ms poll plus one `ip route replace` (tens of ms), and the
 * client sends every 10 ms. A blackholed or looping route would last until the next write —
 * seconds to minutes. 2 s leaves room for the shared, loaded 2-core machine stalling the
 * client, the sink or the VPC router, and still catches any real loss of egress.
 */
const MAX_GAP_MS = 2_000;
/** How long each one-way partition lasts: several failback delays. */
const ONE_WAY_MS = 45_000;
const ONE_WAY_FAILBACK_MS = 10_000;
/** The log lines that tell what a router decided, for reports. */
const KEY_EVENTS =
  /route\.(created|replaced)|split\.suspected|recovery\.|health\.changed|succession\.|leader\.changed/;
const SPLIT_METRIC = /^aws_nat_router_split_suspected(?:\{[^}]*\})? (\d+)/m;

/** The writes (CreateRoute/ReplaceRoute) the EC2 endpoint received per route table, since `at`. */
function writesByTable(world: NetWorld, from: number, to = Infinity): Map<string, number[]> {
  const byTable = new Map<string, number[]>();
  for (const call of world.ec2Calls) {
    if (call.action !== "CreateRoute" && call.action !== "ReplaceRoute") continue;
    if (call.status !== 200 || call.time < from || call.time >= to) continue;
    const id = call.params.RouteTableId ?? "";
    byTable.set(id, [...(byTable.get(id) ?? []), call.time]);
  }
  return byTable;
}

/** The longest time a subnet went without a datagram at the sink within [from, to). */
function longestGap(world: NetWorld, subnet: string, from: number, to: number): number {
  const times = (world.arrivals.get(subnet) ?? []).map((a) => a.at).filter((at) =>
    at >= from && at < to
  );
  let gap = 0;
  let last = from;
  for (const at of [...times, to]) {
    gap = Math.max(gap, at - last);
    last = at;
  }
  return gap;
}

/**
 * Each subnet's route writes since `from`, for reports: `+<ms> <writer>→<target>`, NATs by
 * their world name (`nat1`, ...), the writer told by the access key of its instance role.
 */
function writeLog(world: NetWorld, from: number): Record<string, string[]> {
  const name = (test: (nat: NetWorld["nats"][number]) => boolean) => {
    const nat = world.nats.find(test);
    return nat ? `nat${nat.index}` : "?";
  };
  const log: Record<string, string[]> = {};
  for (const call of world.ec2Calls) {
    if (call.action !== "CreateRoute" && call.action !== "ReplaceRoute") continue;
    if (call.status !== 200 || call.time < from) continue;
    const subnet = world.subnets.find((s) => s.routeTableId === call.params.RouteTableId);
    if (!subnet) continue;
    const writer = name((n) => n.imds.credentials.accessKeyId === call.accessKeyId);
    const eni = call.params.NetworkInterfaceId;
    const target = name((n) =>
      n.instanceId === call.params.InstanceId ||
      world.sim.instance(n.instanceId)!.networkInterfaces.some((e) => e.networkInterfaceId === eni)
    );
    (log[subnet.name] ??= []).push(`+${call.time - from} ${writer}→${target}`);
  }
  return log;
}

/** Moves as a report line. */
function text(moves: readonly { subnet: string; to: string; blackoutMs: number; lost: number }[]) {
  return moves.map((m) => `${m.subnet}→${m.to} blackout ${m.blackoutMs} ms, ${m.lost} lost`)
    .join(", ");
}

function recoveryCalls(world: NetWorld): string[] {
  return world.ec2Calls
    .filter((c) => c.action === "RebootInstances" || c.action === "TerminateInstances")
    .map((c) => `${c.action} ${JSON.stringify(c.params)}`);
}

Deno.test({
  name: "netns safety: a fleet launched with source/dest check on everywhere starts (--self-check)",
  ignore: !available,
  fn: async (t) => {
    // Two interfaces per NAT: the check is on for the instance and for each interface.
    const world = await NetWorld.build({ sourceDestCheck: true, natInterfaces: 2 });
    try {
      const interfaces = () =>
        world.nats.flatMap((n) => world.sim.instance(n.instanceId)!.networkInterfaces);
      await t.step("EC2 launched every NAT interface with the check on", () => {
        assert.equal(interfaces().length, 2 * world.nats.length);
        assert.ok(interfaces().every((eni) => eni.sourceDestCheck));
      });
      await world.startRouters(
        ["--failback-delay", "2s", "--self-check", "--serve-health", "3127", "--port", "3127"],
        { squid: false },
      );
      await t.step(
        "the fleet converges: every subnet's packets leave through its zone",
        async () => {
          await world.waitUntil(
            "the zone allocation at the sink",
            () => zoneAllocation(world),
            60_000,
          );
          for (const subnet of world.subnets) {
            const since = Date.now();
            await world.waitUntil(
              `${subnet.name} keeps sending`,
              () => (world.arrivals.get(subnet.name) ?? []).some((a) => a.at > since),
              5_000,
            );
          }
        },
      );
      await t.step("each node turned its own check off, on every interface", () => {
        assert.ok(interfaces().every((eni) => !eni.sourceDestCheck), "no interface has it on");
        for (const nat of world.nats) {
          const eni = world.sim.instance(nat.instanceId)!.networkInterfaces;
          const lines = nat.router!.grep(/source_dest_check\.disabled .*by=self_check/);
          for (const { networkInterfaceId } of eni) {
            assert.equal(
              lines.filter((l) =>
                l.includes(`instance_id=${nat.instanceId}`) &&
                l.includes(`network_interface_id=${networkInterfaceId}`)
              ).length,
              1,
              `${nat.instanceId} turned ${networkInterfaceId} off itself:\n${lines.join("\n")}`,
            );
          }
          assert.ok(
            lines.every((l) => l.includes(`instance_id=${nat.instanceId}`)),
            "a self-check fixes only its own instance",
          );
        }
      });
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name: "netns safety: a symmetric health-port partition for 5 minutes: no fight, no recovery",
  ignore: !available,
  fn: async (t) => {
    const world = await NetWorld.build();
    try {
      const [nat1, nat2] = world.nats.map((n) => n.instanceId) as [string, string, string];
      await world.startRouters([
        "--failback-delay",
        "2s",
        "--recovery",
        "terminate",
        "--recovery-after",
        "5s",
        "--metrics-listen",
        "0.0.0.0:9100",
      ]);
      await world.waitUntil("the initial allocation", () => zoneAllocation(world), 60_000);
      const at = Date.now();
      await world.partition(nat1, nat2, true);
      const splitMetric = new Map<string, number>([[nat1, 0], [nat2, 0]]);
      while (Date.now() - at < PARTITION_MS) {
        for (const id of [nat1, nat2]) {
          const value = Number(SPLIT_METRIC.exec(await world.scrapeMetrics(id) ?? "")?.[1] ?? 0);
          splitMetric.set(id, Math.max(splitMetric.get(id)!, value));
        }
        await sleep(5_000);
      }
      const end = Date.now();
      const carriers = world.carriers();
      await world.heal(nat1);
      await world.heal(nat2);
      const writes = writesByTable(world, at, end);
      const moves = Object.fromEntries(
        world.subnets.map((s) => [s.name, writes.get(s.routeTableId)?.length ?? 0]),
      );
      const gaps = Object.fromEntries(
        world.subnets.map((s) => [s.name, longestGap(world, s.name, at, end)]),
      );
      report(
        `netns partition both ways, ${PARTITION_MS / 1000} s: moves per table ${
          JSON.stringify(moves)
        } (${JSON.stringify(writeLog(world, at))}); longest gap per subnet (ms) ${
          JSON.stringify(gaps)
        }; carriers at the end ${JSON.stringify(carriers)}; split metric max ${
          JSON.stringify(Object.fromEntries(splitMetric))
        }`,
      );

      for (const id of [nat1, nat2]) {
        const router = world.nat(id).router!;
        report(
          `${router.name} (${id}) during the partition:\n  ${
            router.grep(KEY_EVENTS).filter((l) => Date.parse(l.slice(0, 24)) >= at).slice(0, 30)
              .join("\n  ")
          }`,
        );
      }
      await t.step(`each route table moved at most ${MAX_PARTITION_MOVES} times`, () => {
        for (const [subnet, count] of Object.entries(moves)) {
          assert.ok(count <= MAX_PARTITION_MOVES, `${subnet}'s table moved ${count} times`);
        }
      });
      await t.step(`traffic left through some NAT all along (no gap over ${MAX_GAP_MS} ms)`, () => {
        for (const [subnet, gap] of Object.entries(gaps)) {
          assert.ok(gap <= MAX_GAP_MS, `${subnet} went ${gap} ms without a datagram`);
        }
        assert.ok(Object.values(carriers).every((c) => c?.startsWith("i-")), "NATs carry all");
      });
      await t.step("split.suspected is logged and exported", () => {
        const logged = [nat1, nat2].flatMap((id) =>
          world.nat(id).router!.grep(/split\.suspected /)
        );
        assert.ok(logged.length > 0, "a split.suspected line");
        assert.ok(
          [...splitMetric.values()].some((v) => v >= 1),
          "aws_nat_router_split_suspected went to 1 or more",
        );
      });
      await t.step("no NAT was rebooted or terminated (--recovery terminate after 5s)", () => {
        assert.deepEqual(recoveryCalls(world), []);
        for (const nat of world.nats) {
          assert.equal(world.sim.instance(nat.instanceId)?.state, "running");
        }
      });
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name:
    "netns safety: a one-way health-port partition moves a table at most once per failback delay",
  ignore: !available,
  fn: async (t) => {
    const world = await NetWorld.build();
    try {
      const [nat1, nat2] = world.nats.map((n) => n.instanceId) as [string, string, string];
      await world.startRouters(["--failback-delay", `${ONE_WAY_FAILBACK_MS / 1000}s`]);
      await world.waitUntil("the initial allocation", () => zoneAllocation(world), 60_000);
      for (const [from, to, who] of [[nat1, nat2, "the leader"], [nat2, nat1, "a follower"]]) {
        await t.step(`${who} cannot reach the other's health port`, async () => {
          const at = Date.now();
          await world.partition(from!, to!);
          await sleep(ONE_WAY_MS);
          const carriers = world.carriers();
          await world.heal(to!);
          const healed = Date.now();
          await world.waitUntil(
            "the zone allocation again",
            () => zoneAllocation(world),
            5 * 60_000,
          );
          await sleep(ONE_WAY_FAILBACK_MS);
          const writes = writesByTable(world, at);
          const moves = Object.fromEntries(
            world.subnets.map((s) => [
              s.name,
              (writes.get(s.routeTableId) ?? []).map((time) => time - at),
            ]),
          );
          report(
            `netns partition one way (${who} cannot probe): ${ONE_WAY_MS / 1000} s, healed at ` +
              `+${healed - at} ms; writes (ms after the fault) ${
                JSON.stringify(writeLog(world, at))
              }; carriers during ${JSON.stringify(carriers)}`,
          );
          assert.ok(Object.values(carriers).every((c) => c?.startsWith("i-")), "NATs carry all");
          for (const [subnet, times] of Object.entries(moves)) {
            for (let i = 1; i < times.length; i++) {
              assert.ok(
                times[i]! - times[i - 1]! >= ONE_WAY_FAILBACK_MS,
                `${subnet}'s table moved twice within ${ONE_WAY_FAILBACK_MS} ms: ${times}`,
              );
            }
          }
        });
      }
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name: "netns safety: the leader's router stopped, another NAT crashes: the next in line moves",
  ignore: !available,
  fn: async (t) => {
    const world = await NetWorld.build();
    try {
      const [nat1, nat2, nat3] = world.nats.map((n) => n.instanceId) as [string, string, string];
      await world.startRouters(["--failback-delay", "2s"]);
      await world.waitUntil("the initial allocation", () => zoneAllocation(world), 60_000);
      await t.step("the leader's router is killed; its squid still answers", async () => {
        assert.match(
          await world.nat(nat2).router!.waitFor(/leader\.changed/),
          new RegExp(`leader=${nat1}`),
        );
        await world.stopRouter(nat1);
        assert.ok(world.nat(nat1).squid, "squid still runs on the leader");
        await sleep(1_000);
      });
      await t.step(
        "the zone's only other NAT crashes: its subnets' packets flow again",
        async () => {
          const { moves } = await faultAndMove(world, "crash", nat3, 60_000);
          assert.ok(moves.length > 0, `${nat3} carried a subnet`);
          for (const move of moves) {
            assert.ok(
              [nat1, nat2].includes(move.to),
              `${move.subnet} moved to a NAT, not ${move.to}`,
            );
          }
          const acting = world.nat(nat2).router!.grep(/succession\.acting /);
          assert.ok(acting.length > 0, "the next in line said it acts for the leader");
          report(`netns succession (leader's router killed, then ${nat3} crashed): ${text(moves)}`);
        },
      );
      await t.step("all repaired: the leader's router runs again", async () => {
        await world.boot(nat3);
        world.startRouterAgain(nat1);
        await world.waitUntil("the zone allocation again", () => zoneAllocation(world), 60_000);
      });
      await t.step(
        "the leader's EC2 answers stall after the head: the next in line moves",
        async () => {
          const before = world.nat(nat2).router!.grep(/succession\.acting /).length;
          world.ec2Fault(nat1, "stall");
          await sleep(1_000);
          const { moves } = await faultAndMove(world, "crash", nat3, 60_000);
          for (const move of moves) {
            assert.ok(
              [nat1, nat2].includes(move.to),
              `${move.subnet} moved to a NAT, not ${move.to}`,
            );
          }
          const acting = world.nat(nat2).router!.grep(/succession\.acting /);
          assert.ok(acting.length > before, "the next in line acted for the stuck leader");
          report(
            `netns succession (leader's EC2 calls stall, then ${nat3} crashed): ${text(moves)}`,
          );
          world.clearEc2Faults();
        },
      );
      await t.step(
        "the stall over, the leader's router reads EC2 again (no call hangs)",
        async () => {
          const cleared = Date.now();
          world.clearEc2Faults(); // also when the step before failed
          const key = world.nat(nat1).imds.credentials.accessKeyId;
          // Each attempt is bounded by the request timeout (5 s): well within 30 s.
          await world.waitUntil(
            "a call of the leader's router answered after the stall",
            () =>
              world.ec2Calls.some((c) =>
                c.accessKeyId === key && c.time >= cleared && c.status === 200
              ),
            30_000,
          );
        },
      );
      await t.step("repaired again: the leader's router takes the tables back", async () => {
        await world.boot(nat3);
        await world.waitUntil("the zone allocation again", () => zoneAllocation(world), 60_000);
      });
      await t.step(
        "the leader's router crash-loops: dead again right after failing back, the NAT crashes",
        async () => {
          // The next in line may not have read EC2 since the leader moved the tables back to
          // nat3 (while nat3 was healthy): that move is not a split.
          const before = world.nat(nat2).router!.grep(/succession\.acting /).length;
          await world.stopRouter(nat1);
          const { moves } = await faultAndMove(world, "crash", nat3, 60_000);
          for (const move of moves) {
            assert.ok(
              [nat1, nat2].includes(move.to),
              `${move.subnet} moved to a NAT, not ${move.to}`,
            );
          }
          const acting = world.nat(nat2).router!.grep(/succession\.acting /);
          assert.ok(acting.length > before, "the next in line acted again");
          report(
            `netns succession (leader's router dead again, then ${nat3} crashed): ${text(moves)}`,
          );
        },
      );
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name: "netns safety: the NATs' own tables and a public table are never written; NATs keep egress",
  ignore: !available,
  fn: async (t) => {
    const world = await NetWorld.build();
    try {
      const { sim, vpcId } = world;
      const [nat1, , nat3] = world.nats.map((n) => n.instanceId) as [string, string, string];
      const zoneA = world.nat(nat1).zone;
      const igw = "igw-0a1b2c3d4e5f67890";
      const toInternet = [{ destinationCidrBlock: "0.0.0.0/0", gatewayId: igw }];
      const tags = { [TAG_CLUSTER_ID]: world.clusterId, [TAG_ZONE]: zoneA };
      // Zone a's NAT subnet has its own table; zone b's follows the main table. Both tagged.
      const natSubnetA = sim.instance(nat1)!.subnetId;
      const explicit = sim.addRouteTable({
        vpcId,
        tags,
        subnetIds: [natSubnetA],
        routes: toInternet,
      });
      const main = sim.addRouteTable({
        vpcId,
        tags: { [TAG_CLUSTER_ID]: world.clusterId },
        main: true,
        routes: toInternet,
      });
      assert.notEqual(sim.instance(nat3)!.subnetId, natSubnetA);
      // A public subnet's table, tagged by mistake.
      const publicTable = sim.addRouteTable({
        vpcId,
        tags,
        subnetIds: [sim.addSubnet(vpcId, zoneA)],
        routes: toInternet,
      });
      const guarded = {
        [explicit]: "serves_nat_subnet",
        [main]: "serves_nat_subnet",
        [publicTable]: "internet_gateway_route",
      };
      const egress = async () =>
        Object.fromEntries(
          await Promise.all(
            world.nats.map(async (n) => [n.instanceId, await world.egressFrom(n.instanceId)]),
          ),
        );
      const direct = Object.fromEntries(world.nats.map((n) => [n.instanceId, n.publicIp]));

      await t.step("the world: a NAT's own egress follows its subnet's table", async () => {
        await world.waitUntil(
          "each NAT's kernel route follows its subnet's table",
          () => world.nats.every((n) => world.applied.some((a) => a.subnet === `nat${n.index}`)),
          5_000,
        );
        assert.deepEqual(await egress(), direct, "each NAT goes out through the internet gateway");
        // Pointing zone a's NAT subnet at nat1 (what the router must never do) loops nat1's
        // packets, its own and nat2's (sent to nat1) alike: zone a loses all egress.
        sim.setRoute(explicit, { destinationCidrBlock: "0.0.0.0/0", instanceId: nat1 });
        await sleep(200);
        const looped = await egress();
        sim.setRoute(explicit, toInternet[0]!);
        assert.equal(looped[nat1], undefined, "nat1 routed to itself has no egress");
        assert.equal(looped[world.nats[1]!.instanceId], undefined, "nat2 through nat1: none");
        assert.equal(looped[nat3], direct[nat3], "zone b's NAT follows the main table");
        await sleep(200);
        assert.deepEqual(await egress(), direct);
      });

      await world.startRouters(["--failback-delay", "2s"]);
      await t.step("the cluster's own tables are allocated as usual", async () => {
        await world.waitUntil("the zone allocation", () => zoneAllocation(world), 60_000);
        await world.nat(nat1).router!.waitFor(/router\.ready/);
        await sleep(12_000); // two discoveries and more
      });
      await t.step("the guarded tables were never written", () => {
        const touched = world.ec2Calls.filter((c) =>
          (c.action === "CreateRoute" || c.action === "ReplaceRoute") &&
          (c.params.RouteTableId ?? "") in guarded
        );
        assert.deepEqual(touched.map((c) => `${c.action} ${c.params.RouteTableId}`), []);
        for (const id of Object.keys(guarded)) assert.equal(sim.defaultRouteTarget(id), igw);
      });
      await t.step("the leader warned once about each, with why", () => {
        const leader = world.nat(nat1).router!;
        for (const [id, reason] of Object.entries(guarded)) {
          const lines = leader.grep(new RegExp(`resource\\.skipped resource_id=${id} `));
          assert.equal(lines.length, 1, `one warning for ${id}:\n${lines.join("\n")}`);
          assert.match(lines[0]!, new RegExp(`reason=${reason}`));
        }
        for (const router of world.routers()) {
          for (const id of Object.keys(guarded)) {
            const lines = router.grep(new RegExp(`resource\\.skipped resource_id=${id} `));
            assert.ok(lines.length <= 1, `${router.name} warned about ${id} once at most`);
          }
        }
      });
      await t.step("the NATs keep their own internet path", async () => {
        assert.deepEqual(await egress(), direct);
      });
    } finally {
      await world.close();
    }
  },
});
