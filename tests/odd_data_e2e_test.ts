/**
 * End-to-end, odd data: the real program against a simulated VPC holding route tables with
 * IPv6, prefix-list, gateway, peering, transit and NAT-gateway routes, tables without or with
 * malformed zone tags, a cluster tag in another case, very long tag values, tables untagged
 * or deleted while it runs, and a VPC of 1,000 instances and 5,000 route tables read across
 * many pages. Each tagged table ends on a healthy NAT; nothing else changes.
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { FAST, ownedTables, routerArgs, waitUntil } from "./e2e.ts";
import { assertConverged, Ec2Proxy, logFrom, watch, writesTo } from "./faults_support.ts";
import { simEnv, startRouter } from "./router_process.ts";
import type { Tags } from "./sim/ec2_sim.ts";
import { SimVpc } from "./sim/vpc.ts";

const ROUTE_WRITES = ["CreateRoute", "ReplaceRoute"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Route table id → how many of `tables` point at each instance. */
function loads(vpc: SimVpc, tables: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const table of tables) {
    const target = vpc.ec2.defaultRouteTarget(table) ?? "-";
    counts.set(target, (counts.get(target) ?? 0) + 1);
  }
  return counts;
}

Deno.test("router routes odd route tables and tags, logs each malformed one, touches nothing else", async (t) => {
  const vpc = await SimVpc.standard({ zones: [2, 1] });
  const { clusterId, zones, natIds } = vpc.fleet;
  const [zoneA, zoneB] = zones as [string, string];
  const [a1, a2, b1] = natIds as [string, string, string];
  const ours = (zone?: string): Tags => ({
    [TAG_CLUSTER_ID]: clusterId,
    ...(zone === undefined ? {} : { [TAG_ZONE]: zone }),
  });
  const mixed = vpc.addRouteTable({
    tags: ours(zoneA),
    routes: [
      { destinationIpv6CidrBlock: "::/0", gatewayId: vpc.fleet.internetGatewayId },
      { destinationPrefixListId: "pl-0123456789abcdef0", gatewayId: "vgw-0123456789abcdef0" },
      { destinationCidrBlock: "10.20.0.0/16", vpcPeeringConnectionId: "pcx-0123456789abcdef0" },
      { destinationCidrBlock: "192.168.0.0/16", natGatewayId: "nat-0123456789abcdef0" },
      { destinationCidrBlock: "172.16.0.0/12", transitGatewayId: "tgw-0123456789abcdef0" },
      { destinationCidrBlock: "100.64.0.0/10", gatewayId: "vgw-0123456789abcdef0" },
    ],
  });
  const noZone = vpc.addRouteTable({ tags: ours() });
  const ghostZone = vpc.addRouteTable({ tags: ours(`${vpc.region}f`) });
  const malformed = {
    "spaces inside": vpc.addRouteTable({ tags: ours("us east 1a") }),
    "unicode": vpc.addRouteTable({ tags: ours(`${zoneA}ä`) }),
    "empty": vpc.addRouteTable({ tags: ours("") }),
    "256 characters": vpc.addRouteTable({ tags: ours("a".repeat(256)) }),
  };
  const padded = vpc.addRouteTable({ tags: ours(` ${zoneB} `) });
  const otherCase = vpc.addRouteTable({
    tags: { [TAG_CLUSTER_ID]: clusterId.toUpperCase(), [TAG_ZONE]: zoneA },
    routes: [{ destinationCidrBlock: "0.0.0.0/0", gatewayId: vpc.fleet.internetGatewayId }],
  });
  const oddNat = vpc.addInstance({ zone: zoneB, tags: ours("zone b!"), publicIp: true });
  const longNat = vpc.addInstance({ zone: zoneA, tags: ours("z".repeat(256)) });
  const otherCaseNat = vpc.addInstance({
    zone: zoneA,
    tags: { [TAG_CLUSTER_ID]: clusterId.toUpperCase(), [TAG_ZONE]: zoneA },
  });
  const healthy = [a1, a2, b1, oddNat, longNat];
  const orphans = [noZone, ghostZone, ...Object.values(malformed)];
  const before = vpc.ec2.snapshot();
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  const running = watch(router);
  try {
    await t.step("every tagged table gets a NAT; the other routes stay as they were", async () => {
      await assertConverged(vpc, before, healthy);
      const routes = (table: string, s = vpc.ec2.snapshot()) =>
        s.routeTables.find((r) => r.routeTableId === table)!.routes.filter((r) =>
          r.destinationCidrBlock !== "0.0.0.0/0"
        );
      assert.deepEqual(routes(mixed), routes(mixed, before));
      assert.equal(routes(mixed).length, 7, "local route and six others");
      assert.ok([a1, a2, longNat].includes(vpc.ec2.defaultRouteTarget(mixed)!));
    });

    await t.step("tables without a usable zone go to the least-loaded NATs", () => {
      const load = loads(vpc, ownedTables(vpc).map((table) => table.routeTableId));
      const least = Math.min(...healthy.map((id) => load.get(id) ?? 0));
      for (const table of orphans) {
        const target = vpc.ec2.defaultRouteTarget(table)!;
        assert.ok(
          (load.get(target) ?? 0) <= least + 1,
          `${table} is on ${target} with ${load.get(target)} tables; the least has ${least}`,
        );
      }
    });

    await t.step("each malformed zone tag is logged once with its resource, never in full", () => {
      for (const [what, table] of Object.entries(malformed)) {
        const lines = router.grep(new RegExp(`WARN resource\\.skipped resource_id=${table} `));
        assert.equal(lines.length, 1, `one line for the ${what} tag`);
        assert.match(lines[0]!, /reason="ignored malformed aws-nat-router\/zone tag /);
        assert.ok(lines[0]!.length < 400, `a short line for the ${what} tag: ${lines[0]}`);
      }
      for (const instance of [oddNat, longNat]) {
        assert.equal(
          router.grep(new RegExp(`resource\\.skipped resource_id=${instance} `)).length,
          1,
        );
      }
      assert.ok(!router.lines.some((line) => line.includes("z".repeat(100))), "value shortened");
      assert.equal(vpc.ec2.instance(oddNat)?.zone, zoneB, "a NAT's bad tag: its placement counts");
      const target = vpc.ec2.defaultRouteTarget(padded)!;
      assert.ok([b1, oddNat].includes(target), "a padded zone tag is read trimmed");
    });

    await t.step("a cluster tag in another case is not the cluster", () => {
      assert.equal(vpc.ec2.defaultRouteTarget(otherCase), vpc.fleet.internetGatewayId);
      assert.equal(writesTo(vpc, otherCase), 0);
      assert.equal(vpc.ec2.instance(otherCaseNat)?.networkInterfaces[0]?.sourceDestCheck, true);
      assert.ok(!router.lines.some((line) => line.includes(otherCaseNat)), "never even seen");
    });

    await t.step("a table untagged while it runs is no longer touched", async () => {
      const table = vpc.fleet.routeTableIds[0]!;
      vpc.ec2.deleteTags(table, [TAG_CLUSTER_ID]);
      const untagged = Date.now();
      await sleep(2500); // two discoveries: it is gone from the router's view
      vpc.ec2.setRoute(table, {
        destinationCidrBlock: "0.0.0.0/0",
        gatewayId: vpc.fleet.internetGatewayId,
      });
      const now = vpc.ec2.snapshot();
      await sleep(3000);
      assert.equal(vpc.ec2.defaultRouteTarget(table), vpc.fleet.internetGatewayId);
      assert.equal(writesTo(vpc, table, untagged), 0, "no write to the untagged table");
      await assertConverged(vpc, now, healthy);
      running.assertRunning();
    });

    await t.step("a table deleted while it runs is forgotten; failover goes on", async () => {
      const log = logFrom(router);
      vpc.ec2.deleteRouteTable(noZone);
      await sleep(1500);
      const now = vpc.ec2.snapshot();
      await vpc.nat(b1).setMode("refusing");
      await log.waitFor(new RegExp(`route\\.replaced .*from=${b1} .*reason=nat_unhealthy`));
      await assertConverged(vpc, now, healthy.filter((id) => id !== b1));
      await vpc.nat(b1).setMode("up");
      await assertConverged(vpc, now, healthy);
      running.assertRunning();
      assert.deepEqual(router.grep(/ERROR /), [], "nothing failed");
    });
  } finally {
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await vpc.close();
  }
});

Deno.test("router manages a cluster whose id is a 256-character tag value", async () => {
  const clusterId = `nat-${"ü".repeat(12)}-${"x".repeat(239)}`;
  assert.equal([...clusterId].length, 256);
  const vpc = await SimVpc.standard({ clusterId });
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--cluster-id", clusterId]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  try {
    const before = vpc.ec2.snapshot();
    await assertConverged(vpc, before, vpc.fleet.natIds, { clusterId });
    await router.waitFor(/INFO router\.ready /);
    assert.deepEqual(router.grep(/ WARN | ERROR /), []);
  } finally {
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await vpc.close();
  }
});

Deno.test("router allocates 5,000 route tables over 100 NATs among 1,000 instances, page by page", async (t) => {
  const clusterId = "squid";
  const vpc = await SimVpc.start();
  const zones = vpc.zones;
  const firstLaunch = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
  const nats = Array.from({ length: 100 }, (_, n) => {
    const zone = zones[n % zones.length]!;
    return vpc.addInstance({
      zone,
      tags: { [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zone },
      launchTime: firstLaunch + n * 1000,
    });
  });
  // 900 more without health listeners: another cluster's, and ours but stopped (never read).
  for (let n = 0; n < 900; n++) {
    const zone = zones[n % zones.length]!;
    vpc.ec2.addInstance({
      vpcId: vpc.vpcId,
      zone,
      tags: { [TAG_CLUSTER_ID]: n < 100 ? clusterId : "another", [TAG_ZONE]: zone },
      state: n < 100 ? "stopped" : "running",
    });
  }
  const tables = Array.from({ length: 5000 }, (_, n) =>
    vpc.addRouteTable({
      tags: { [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zones[n % zones.length]! },
    }));
  const proxy = new Ec2Proxy(vpc.ec2Endpoint, { routeTablePageSize: 100, instancePageSize: 25 });
  const before = vpc.ec2.snapshot();
  const router = startRouter({
    args: routerArgs(vpc, [
      "--interval",
      "5s",
      "--probe-interval",
      "1s",
      "--timeout",
      "500ms",
      "--failback-delay",
      "1s",
      "--log-level",
      "debug",
    ]),
    env: simEnv({ ec2: proxy.endpoint }, {
      ...vpc.routerEnv(),
      AWS_ENDPOINT_URL_EC2: proxy.endpoint,
    }),
  });
  const running = watch(router);
  try {
    await t.step(
      "it reads every page and routes every table, balanced within each zone",
      async () => {
        const line = await router.waitFor(/DEBUG discovery\.done /, 60_000);
        assert.match(line, /instances=100 route_tables=5000 skipped=0 /);
        const calls = Number(/ calls=(\d+)/.exec(line)?.[1]);
        assert.ok(calls >= 50 + 4, `50 pages of tables and 4 of instances, got ${calls} calls`);
        const paged = vpc.ec2Server.calls.filter((c) =>
          c.action === "DescribeRouteTables" && c.params.NextToken !== undefined
        );
        assert.ok(paged.length >= 49, `followed NextToken ${paged.length} times`);
        await waitUntil("5,000 routes written", () => vpc.ec2.routeWrites.length >= 5000, 120_000);
        await assertConverged(vpc, before, nats, { timeoutMs: 30_000 });
        for (const zone of zones) {
          const load = loads(vpc, tables.filter((_, n) => zones[n % zones.length] === zone));
          const counts = [...load.values()];
          assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `zone ${zone}: ${counts}`);
        }
        assert.equal(vpc.ec2.routeWrites.length, 5000, "one write per table");
        running.assertRunning();
      },
    );

    await t.step("a NAT failing at this scale hands its tables to its zone's others", async () => {
      const log = logFrom(router);
      const nat = nats[0]!;
      const carried = tables.filter((table) => vpc.ec2.defaultRouteTarget(table) === nat);
      await vpc.nat(nat).setMode("refusing");
      await assertConverged(vpc, before, nats.slice(1), { timeoutMs: 30_000 });
      await waitUntil(
        "each move logged",
        () =>
          log.grep(new RegExp(`route\\.replaced .*from=${nat} .*reason=nat_unhealthy`)).length ===
            carried.length,
      );
      const writes = vpc.ec2Server.calls.filter((c) => ROUTE_WRITES.includes(c.action));
      assert.equal(writes.length, 5000 + carried.length, "only the failed NAT's tables moved");
      running.assertRunning();
    });
  } finally {
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await proxy.close();
    await vpc.close();
  }
});
