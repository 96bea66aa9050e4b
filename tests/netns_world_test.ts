/**
 * The namespace world itself (no router): real forwarding and source NAT follow the
 * simulated route tables, and nothing is left on the host afterwards, even from a killed run.
 */
import assert from "node:assert/strict";
import { namespaces, removeNamespace, run, sweepStale } from "./netns/host.ts";
import { GATEWAY_PUBLIC_IP, netnsAvailable, NetWorld } from "./netns/world.ts";

// deno-lint-ignore no-console
const available = await netnsAvailable((line) => console.error(line));

Deno.test({
  name: "netns world: route writes in EC2 steer real datagrams through NAT, then all is removed",
  ignore: !available,
  fn: async (t) => {
    const world = await NetWorld.build({ natsPerZone: [1, 1], subnetsPerZone: 1 });
    const built = (await namespaces()).filter((ns) => ns.startsWith(world.prefix));
    try {
      const [nat1, nat2] = world.nats;
      const [sub1, sub2] = world.subnets;
      await t.step("a subnet without a default route delivers nothing", async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(world.arrivals.get(sub1!.name)?.length, 0);
      });
      await t.step(
        "each subnet's datagrams arrive from the public IP of its table's NAT",
        async () => {
          world.sim.writeRoute("CreateRoute", sub1!.routeTableId, {
            destinationCidrBlock: "0.0.0.0/0",
            instanceId: nat1!.instanceId,
          });
          world.sim.writeRoute("CreateRoute", sub2!.routeTableId, {
            destinationCidrBlock: "0.0.0.0/0",
            natGatewayId: world.natGatewayId,
          });
          await world.waitUntil(
            "sub1 goes through nat1 and sub2 through the NAT gateway",
            () =>
              world.carrier(sub1!.name) === nat1!.instanceId &&
              world.carrier(sub2!.name) === "gateway" &&
              // TCP too: a connection every 200 ms, its source after NAT
              world.connections.get(sub1!.name)!.some((c) => c.source === nat1!.publicIp),
            10_000,
          );
          assert.equal(world.arrivals.get(sub2!.name)?.at(-1)?.source, GATEWAY_PUBLIC_IP);
        },
      );
      await t.step(
        "a route replaced in EC2 moves the subnet's packets to the other NAT",
        async () => {
          const at = Date.now();
          world.sim.writeRoute("ReplaceRoute", sub1!.routeTableId, {
            destinationCidrBlock: "0.0.0.0/0",
            instanceId: nat2!.instanceId,
          });
          await world.waitUntil(
            "sub1 goes through nat2",
            () => world.carrier(sub1!.name) === nat2!.instanceId,
            10_000,
          );
          const moved = world.blackout(sub1!.name, at, nat1!.instanceId);
          assert.equal(moved?.to, nat2!.instanceId);
        },
      );
      await t.step("a NAT with forwarding off carries nothing", async () => {
        await world.setForwarding(nat2!.instanceId, false);
        const at = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.ok(!world.arrivals.get(sub1!.name)!.some((a) => a.at > at + 50));
      });
    } finally {
      await world.close();
    }
    const left = (await namespaces()).filter((ns) => ns.startsWith(world.prefix));
    assert.deepEqual(left, [], "every namespace of the world is gone");
    assert.ok(built.length >= 6, `the world had its namespaces (${built.join(", ")})`);
    for (const ns of built) {
      assert.equal(await Deno.stat(`/etc/netns/${ns}`).then(() => true, () => false), false);
    }
  },
});

Deno.test({
  name: "netns world: a stale world of a process that is gone is swept, a live one is kept",
  ignore: !available,
  fn: async () => {
    const gone = new Deno.Command("true").spawn();
    const { success } = await gone.status;
    assert.ok(success);
    const stale = `anr${gone.pid}w1-stale`;
    // Another process's world (another test run on this host) is live: kept.
    const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const live = `anr${other.pid}w1-live`;
    await run("ip", ["netns", "add", stale]);
    await run("ip", ["netns", "add", live]);
    try {
      const swept = await sweepStale();
      assert.ok(swept.includes(stale), `swept ${swept.join(", ")}`);
      const left = await namespaces();
      assert.ok(!left.includes(stale));
      assert.ok(left.includes(live));
    } finally {
      other.kill("SIGKILL");
      await other.status;
      await removeNamespace(stale);
      await removeNamespace(live);
    }
  },
});
