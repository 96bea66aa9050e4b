/**
 * End-to-end, NAT fleet changes and disagreements: the real program against the simulated
 * VPC while NAT instances are terminated, replaced, have several network interfaces or no
 * private IP, tie on launch time, and while two routers disagree about a NAT's health.
 * The router keeps running, logs one line naming the instance and the cause, and converges.
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { FAST, routerArgs, stopAll, waitUntil } from "./e2e.ts";
import { assertConverged, logFrom, watch } from "./faults_support.ts";
import { type RouterProcess, simEnv, startRouter } from "./router_process.ts";
import { NatListener } from "./sim/nat.ts";
import { SimVpc } from "./sim/vpc.ts";

const ROUTE_WRITES = ["CreateRoute", "ReplaceRoute"];

Deno.test("router follows NATs that are terminated, replaced, multi-homed or address-less", async (t) => {
  const vpc = await SimVpc.standard();
  const { clusterId, zones, natIds, tablesByZone } = vpc.fleet;
  const [a1, a2, b1] = natIds as [string, string, string];
  const natTags = (zone: string) => ({ [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zone });
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  const running = watch(router);
  const before = vpc.ec2.snapshot();
  let healthy = [a1, a2, b1];
  try {
    await assertConverged(vpc, before, healthy);

    await t.step("a terminated NAT's routes (blackholed) move to healthy NATs", async () => {
      const log = logFrom(router);
      vpc.ec2.terminateInstance(b1);
      healthy = [a1, a2];
      await assertConverged(vpc, before, healthy);
      const [table] = tablesByZone[zones[1]!]!;
      await log.waitFor(
        new RegExp(
          `route\\.replaced route_table_id=${table} from=${b1} .*reason=(blackhole|nat_unhealthy)`,
        ),
      );
      running.assertRunning();
    });

    await t.step("a replacement NAT with the same zone tag takes its zone's tables", async () => {
      const log = logFrom(router);
      const b2 = vpc.addInstance({ zone: zones[1]!, tags: natTags(zones[1]!), publicIp: true });
      healthy = [a1, a2, b2];
      await assertConverged(vpc, before, healthy);
      for (const table of tablesByZone[zones[1]!]!) {
        assert.equal(vpc.ec2.defaultRouteTarget(table), b2, `${table} is on the new NAT`);
        await log.waitFor(new RegExp(`route\\.replaced route_table_id=${table} .*to=${b2} `));
      }
      await log.waitFor(new RegExp(`source_dest_check\\.disabled instance_id=${b2} `));
      assert.equal(vpc.ec2.instance(b2)?.networkInterfaces[0]?.sourceDestCheck, false);
    });

    await t.step(
      "a NAT with three interfaces: routes to its primary one, each check off",
      async () => {
        const log = logFrom(router);
        const c1 = vpc.addInstance({ zone: zones[2]!, tags: natTags(zones[2]!), interfaces: 3 });
        healthy = [...healthy, c1];
        await assertConverged(vpc, before, healthy);
        const enis = vpc.ec2.instance(c1)!.networkInterfaces;
        const primary = enis.find((n) => n.deviceIndex === 0)!.networkInterfaceId;
        for (const table of tablesByZone[zones[2]!]!) {
          const route = vpc.ec2.routeTable(table)!.routes.find((r) =>
            r.destinationCidrBlock === "0.0.0.0/0"
          );
          assert.equal(route?.networkInterfaceId, primary, `${table} targets the primary ENI`);
        }
        await waitUntil(
          "every interface's check is off",
          () => enis.every((n) => !n.sourceDestCheck),
        );
        for (const { networkInterfaceId } of enis) {
          await log.waitFor(
            new RegExp(
              `source_dest_check\\.disabled instance_id=${c1} network_interface_id=${networkInterfaceId}`,
            ),
          );
        }
        const calls = vpc.ec2Server.calls;
        assert.ok(
          !calls.some((c) => c.action === "ModifyInstanceAttribute" && c.params.InstanceId === c1),
        );
        assert.ok(
          !calls.some((c) => c.errorCode !== undefined),
          "no call failed",
        );
      },
    );

    await t.step(
      "a NAT without a private IP is unhealthy, logged, never probed at localhost",
      async () => {
        const log = logFrom(router);
        let local: Deno.Listener | undefined;
        let connections = 0;
        try {
          local = Deno.listen({ hostname: "127.0.0.1", port: vpc.healthPort });
        } catch (error) {
          if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        }
        const accepting = (async () => {
          for await (const conn of local ?? []) {
            connections++;
            conn.close();
          }
        })();
        try {
          const bare = vpc.addInstance({
            zone: zones[0]!,
            tags: natTags(zones[0]!),
            privateIp: null,
          });
          await log.waitFor(
            new RegExp(`health\\.changed instance_id=${bare} healthy=false .*error=no_address`),
          );
          await new Promise((resolve) => setTimeout(resolve, 1500)); // a few more probe rounds
          await assertConverged(vpc, before, healthy);
          const owned = vpc.fleet.routeTableIds.filter((id) =>
            vpc.ec2.defaultRouteTarget(id) === bare
          );
          assert.deepEqual(owned, [], "it gets no route table");
          assert.equal(connections, 0, "nothing connected to 127.0.0.1 at the health port");
          running.assertRunning();
        } finally {
          local?.close();
          await accepting.catch(() => {});
        }
      },
    );
  } finally {
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await vpc.close();
  }
});

Deno.test("routers on NATs tied on launch time all elect the lowest instance id", async () => {
  const vpc = await SimVpc.standard();
  const { natIds } = vpc.fleet;
  const clock = vpc.ec2.now;
  const tie = Math.floor(clock() / 1000) * 1000 - 60_000;
  vpc.ec2.now = () => tie;
  for (const id of natIds) {
    vpc.ec2.stopInstance(id);
    vpc.ec2.startInstance(id); // launch time: the tie
  }
  vpc.ec2.now = clock;
  await vpc.settled();
  assert.equal(new Set(natIds.map((id) => vpc.ec2.instance(id)?.launchTime)).size, 1);
  const leader = [...natIds].sort()[0]!;
  const routers = natIds.map((id, n) =>
    startRouter({
      name: `router-${n + 1}`,
      args: routerArgs(vpc, ["--ec2-election", ...FAST]),
      env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, { AWS_REGION: vpc.region }),
    })
  );
  try {
    const before = vpc.ec2.snapshot();
    await assertConverged(vpc, before, natIds);
    await Promise.all(
      routers.map((r) => r.waitFor(new RegExp(`leader\\.changed leader=${leader} `))),
    );
    for (const router of routers) {
      assert.deepEqual(
        router.grep(/leader\.changed /).filter((l) => !l.includes(`leader=${leader} `)),
        [],
        `${router.name} named no other leader`,
      );
    }
    const writers = new Set(
      vpc.ec2Server.calls.filter((c) => ROUTE_WRITES.includes(c.action)).map((c) => c.accessKeyId),
    );
    assert.deepEqual(
      [...writers],
      [vpc.imds(leader).credentials.accessKeyId],
      "only the leader writes",
    );
  } finally {
    await stopAll(routers);
    await vpc.close();
  }
});

/**
 * Two routers that disagree about NAT a1: router A (on a1) checks the shared health port,
 * where a1 answers; router B (on a2) checks a second port, where every NAT also listens, but
 * a1's listener there refuses. Same NATs, same addresses: only B's view of a1 differs, as
 * when a network path between two NATs fails. B then thinks a1 is down and leads; A thinks
 * a1 is fine and leads too, so both write.
 */
Deno.test("two routers that disagree about a NAT's health write boundedly, then converge", async (t) => {
  const failbackMs = 5000;
  const vpc = await SimVpc.standard();
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const all = [a1, a2, b1];
  const addressOf = (id: string) => vpc.ec2.instance(id)!.privateIp!;
  const first = new NatListener([addressOf(a1)], 0);
  const altPort = first.port;
  const alt = new Map([
    [a1, first],
    ...[a2, b1].map((id) => [id, new NatListener([addressOf(id)], altPort)] as const),
  ]);
  const settings = [...FAST.slice(0, -2), "--failback-delay", `${failbackMs / 1000}s`];
  const routerA = startRouter({
    name: "router-a",
    args: routerArgs(vpc, ["--ec2-election", ...settings]),
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a1) }, { AWS_REGION: vpc.region }),
  });
  const routerB = startRouter({
    name: "router-b",
    args: ["--vpc-id", vpc.vpcId, "--port", String(altPort), "--ec2-election", ...settings],
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a2) }, { AWS_REGION: vpc.region }),
  });
  const routers: RouterProcess[] = [routerA, routerB];
  const watched = routers.map(watch);
  const keyA = vpc.imds(a1).credentials.accessKeyId;
  const keyB = vpc.imds(a2).credentials.accessKeyId;
  const writes = (since: number, key?: string) =>
    vpc.ec2Server.calls.filter((c) =>
      ROUTE_WRITES.includes(c.action) && c.status === 200 && c.time >= since &&
      (key === undefined || c.accessKeyId === key)
    );
  try {
    const before = vpc.ec2.snapshot();
    await assertConverged(vpc, before, all);
    await routerB.waitFor(new RegExp(`leader\\.changed leader=${a1} self=${a2} role=follower`));

    await t.step(
      "while they disagree, each table moves at most once per failback delay",
      async () => {
        const logB = logFrom(routerB);
        const windowMs = 15_000;
        const since = Date.now();
        await alt.get(a1)!.setMode("refusing");
        await logB.waitFor(new RegExp(`WARN health\\.changed instance_id=${a1} healthy=false `));
        await logB.waitFor(new RegExp(`leader\\.changed leader=${a2} self=${a2} role=leader`));
        await new Promise((resolve) => setTimeout(resolve, windowMs - (Date.now() - since)));
        const byB = writes(since, keyB);
        const byA = writes(since, keyA);
        assert.ok(byB.length > 0, "B acted on its view");
        assert.ok(byA.length > 0, "A, to which a1 is fine, moved tables back after the hold-down");
        const perTable = Map.groupBy(writes(since), (c) => c.params.RouteTableId);
        // B moves a table off a1 at once (a1 is down to it); A moves it back only after the
        // hold-down: at most one round trip per failback delay, plus the one in progress.
        const rounds = Math.floor(windowMs / failbackMs) + 1;
        const bound = 2 * rounds;
        for (const [table, calls] of perTable) {
          assert.ok(
            calls.length <= bound,
            `${table} was written ${calls.length} times in ${windowMs} ms (at most ${bound})`,
          );
        }
        const movesBack = Map.groupBy(byA, (c) => c.params.RouteTableId);
        for (const [table, calls] of movesBack) {
          assert.ok(
            calls.length <= rounds,
            `A moved ${table} back ${calls.length} times in ${windowMs} ms`,
          );
        }
      },
    );

    await t.step("once they agree again, the routes converge and the writes stop", async () => {
      await alt.get(a1)!.setMode("up");
      await routerB.waitFor(new RegExp(`leader\\.changed leader=${a1} self=${a2} role=follower`));
      let last = Date.now();
      // A held move is made at the first discovery after the hold-down, which starts at the
      // discovery that saw the change: up to a failback delay and two intervals after it.
      await waitUntil("no route write for a failback delay and three intervals", () => {
        const latest = writes(0).at(-1)?.time ?? 0;
        if (latest > last) last = latest;
        return Date.now() - last > failbackMs + 3000;
      }, 40_000);
      await assertConverged(vpc, before, all);
      const quiet = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(
        writes(quiet),
        [],
        `no write once converged; the last:\n${routerA.lines.slice(-5).join("\n")}`,
      );
      for (const router of watched) router.assertRunning();
    });
  } finally {
    await stopAll(routers);
    await Promise.all([...alt.values()].map((listener) => listener.close()));
    await vpc.close();
  }
});
