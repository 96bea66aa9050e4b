/**
 * End-to-end in the namespace world, planned departures (issue 13): with every private subnet
 * sending a datagram every 10 ms, a drain by command, a spot interruption notice, an Auto
 * Scaling termination and an instance shutdown each hand the NAT's subnets to the others with
 * 0 datagrams lost (read from the sink), EC2 shows no table on the NAT, and it gets none back
 * until it is undrained or has come back healthy; a restart of a router (an upgrade) writes no
 * route and loses nothing; a rolling refresh of every NAT loses nothing and moves each table
 * exactly as often as the rules require. Hand-off times are reported here and measured in the
 * data-plane benchmark.
 */
import assert from "node:assert/strict";
import { TAG_DRAINING } from "../lib/model.ts";
import { zoneAllocation } from "./netns/faults.ts";
import {
  lostBetween,
  plannedMove,
  routeMark,
  tableMoves,
  tablesOnNat,
  type Trigger,
  TRIGGERS,
  undoPlanned,
} from "./netns/planned.ts";
import { netnsAvailable, NetWorld, sleep } from "./netns/world.ts";

// deno-lint-ignore no-console
const report = (line: string) => console.error(line);
const available = await netnsAvailable(report);
/** The shipped defaults, with a shorter failback delay so a NAT's return takes seconds. */
const ARGS = ["--failback-delay", "2s"];

async function withWorld(body: (world: NetWorld) => Promise<void>): Promise<void> {
  const world = await NetWorld.build();
  try {
    await world.startRouters(ARGS);
    await world.waitUntil("the initial allocation reaches the sink", () => zoneAllocation(world));
    await body(world);
  } finally {
    await world.close();
  }
}

/** Which NAT each trigger hits: one carrying subnets; the leader for two of them. */
const TARGET: Readonly<Record<Trigger, number>> = {
  drain_command: 0, // the leader: the role passes on
  spot_notice: 2, // the only NAT of its zone: both its subnets cross zones
  asg_termination: 1,
  shutdown: 0,
};

Deno.test({
  name: "netns: planned departures lose no datagram",
  ignore: !available,
  fn: async (t) => {
    await withWorld(async (world) => {
      for (const kind of TRIGGERS) {
        const nat = world.nats[TARGET[kind]]!.instanceId;
        await t.step(`${kind}: 0 datagrams lost, no table left on the NAT`, async () => {
          const outcome = await plannedMove(world, kind, nat);
          assert.ok(outcome.moves.length > 0, `${nat} carried a subnet before ${kind}`);
          if (outcome.code !== undefined) assert.equal(outcome.code, 0, "drain exited 0");
          for (const move of outcome.moves) {
            assert.equal(move.lost, 0, `${move.subnet}: ${move.lost} datagrams lost`);
            assert.notEqual(move.to, nat);
          }
          assert.deepEqual(tablesOnNat(world, nat), []);
          assert.ok(world.sim.instance(nat)!.tags[TAG_DRAINING], "the NAT is marked draining");
          report(
            `netns ${kind} on ${nat}: hand-off (EC2) ${outcome.handoffMs}ms; ` +
              outcome.moves.map((m) => `${m.subnet}→${m.to} ${m.switchMs}ms ${m.lost} lost`)
                .join(", "),
          );
          if (kind === "drain_command") {
            await world.waitUntil(
              "another router leads",
              () =>
                world.routers().some((r) =>
                  r !== world.nat(nat).router &&
                  r.lines.some((l) => /leader\.changed .*role=leader/.test(l))
                ),
            );
          }
          if (kind !== "shutdown") {
            await sleep(3_000);
            assert.deepEqual(tablesOnNat(world, nat), [], "it gets no table while draining");
          }
          await undoPlanned(world, kind, nat);
        });
      }
    });
  },
});

Deno.test({
  name: "netns: router restarts (systemctl restart) write no route and lose nothing",
  ignore: !available,
  fn: async (t) => {
    await withWorld(async (world) => {
      await t.step("every router restarted in turn: 0 route writes, 0 datagrams lost", async () => {
        const writes = world.sim.routeWrites.length;
        const from = Date.now();
        for (const nat of world.nats) {
          assert.equal(await world.restartRouter(nat.instanceId), 0);
          await nat.router!.waitFor(/router\.ready/, 30_000);
        }
        await sleep(3_000);
        const to = Date.now();
        assert.equal(world.sim.routeWrites.length, writes, "no route written");
        for (const subnet of world.subnets) {
          assert.equal(lostBetween(world, subnet.name, from, to), 0, `${subnet.name} lost none`);
        }
      });
    });
  },
});

Deno.test({
  name: "netns: a rolling refresh of every NAT loses nothing and moves each table twice",
  ignore: !available,
  fn: async (t) => {
    await withWorld(async (world) => {
      await t.step(
        "each NAT: shutdown (drain first), boot, back healthy, its zone back",
        async () => {
          const writes = world.sim.routeWrites.length;
          const start = routeMark(world);
          const carried = Object.values(world.carriers());
          const from = Date.now();
          for (const nat of world.nats) {
            const outcome = await plannedMove(world, "shutdown", nat.instanceId);
            assert.equal(outcome.code, 0);
            await undoPlanned(world, "shutdown", nat.instanceId);
            await nat.router!.waitFor(/drain\.cleared .*reason=healthy_after_boot/, 30_000);
          }
          const to = Date.now();
          const lost = world.subnets.map((s) => lostBetween(world, s.name, from, to));
          const moves = tableMoves(world, start);
          // Each subnet's table leaves its NAT once and comes back once: the fewest moves a
          // refresh can make with route moves (each resets that subnet's TCP connections).
          const minimum = 2 * carried.length;
          report(
            `netns rolling refresh of ${world.nats.length} NATs: ${moves} table moves ` +
              `(= TCP connection resets per subnet; minimum ${minimum}; ${
                world.sim.routeWrites.length - writes
              } route writes), datagrams lost ${lost.join("/")}, ${
                Math.round((to - from) / 1000)
              }s`,
          );
          assert.deepEqual(lost, world.subnets.map(() => 0), "0 datagrams lost in every subnet");
          const sequence = world.sim.routeWrites.slice(writes).map((w) => {
            const subnet = world.subnets.find((s) => s.routeTableId === w.routeTableId)?.name;
            const to = w.instanceId ??
              world.sim.networkInterface(w.networkInterfaceId ?? "")?.instance.instanceId;
            const nat = world.nats.find((n) => n.instanceId === to);
            return `${Math.round((w.time - from) / 100) / 10}s ${subnet}→nat${nat?.index ?? "?"}`;
          });
          assert.equal(
            moves,
            minimum,
            `each table moved away and back once:\n${sequence.join("\n")}`,
          );
        },
      );
    });
  },
});
