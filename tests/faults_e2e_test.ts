/**
 * End-to-end, EC2 API faults: the real program against the simulated VPC while the EC2
 * endpoint throttles, fails with 500s, answers slower than the client timeout, drops
 * connections or is down at start; races with another writer between the router's read
 * and its write; and SIGTERM in the middle of a large batch of writes. In every case the
 * router keeps running, logs one line naming the resource and the cause, and converges
 * once the fault clears, touching nothing it does not own.
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { FAST, routerArgs } from "./e2e.ts";
import { assertConverged, Ec2Proxy, logFrom, watch } from "./faults_support.ts";
import { simEnv, startRouter } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

const WRITES = ["CreateRoute", "ReplaceRoute"];

Deno.test("router rides out EC2 API faults and converges once each clears", async (t) => {
  const vpc = await SimVpc.standard();
  const server = vpc.ec2Server;
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const all = [a1, a2, b1];
  const [tableA, tableA2] = vpc.fleet.tablesByZone[vpc.fleet.zones[0]!] as [string, string];
  const [tableB] = vpc.fleet.tablesByZone[vpc.fleet.zones[1]!] as [string];
  const before = vpc.ec2.snapshot();
  await server.down();
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  const running = watch(router);
  try {
    await t.step(
      "the endpoint down at start: it logs the refused connection, then converges",
      async () => {
        await logFrom(router).waitFor(
          new RegExp(
            `ERROR discovery\\.failed action=Describe\\w+ code=NetworkError ` +
              `error="connection refused by ${
                new URL(vpc.ec2Endpoint).host.replaceAll(".", "\\.")
              }"`,
          ),
        );
        running.assertRunning();
        server.up();
        await assertConverged(vpc, before, all);
        await router.waitFor(/INFO router\.ready /);
      },
    );

    await t.step("a throttling burst on Describe (RequestLimitExceeded, 503)", async () => {
      const log = logFrom(router);
      server.inject("throttle", { action: "DescribeRouteTables", count: 1000 });
      vpc.ec2.deleteRoute(tableA, "0.0.0.0/0"); // only a successful Describe can notice
      await log.waitFor(/discovery\.failed action=DescribeRouteTables code=RequestLimitExceeded/);
      assert.ok(server.calls.some((c) => c.status === 503), "EC2 answered 503");
      assert.equal(vpc.ec2.defaultRouteTarget(tableA), undefined, "no write without a view");
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, all);
      await log.waitFor(new RegExp(`route\\.created route_table_id=${tableA} .*reason=no_route`));
    });

    await t.step("a throttling burst on writes: the failed change is retried later", async () => {
      const log = logFrom(router);
      server.inject("throttle", { action: "ReplaceRoute", count: 1000 });
      await vpc.nat(b1).setMode("refusing");
      await log.waitFor(
        new RegExp(`ERROR route\\.failed route_table_id=${tableB} .*code=RequestLimitExceeded`),
        40_000,
      );
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, [a1, a2]);
      await log.waitFor(new RegExp(`route\\.replaced route_table_id=${tableB} from=${b1} `));
      await vpc.nat(b1).setMode("up");
      await assertConverged(vpc, before, all);
    });

    await t.step("500s on Describe and on writes", async () => {
      const log = logFrom(router);
      server.inject("internalError", { action: "DescribeInstances", count: 1000 });
      server.inject("internalError", { action: "CreateRoute", count: 1000 });
      vpc.ec2.deleteRoute(tableA2, "0.0.0.0/0");
      await log.waitFor(/ERROR discovery\.failed action=DescribeInstances code=InternalError/);
      server.clearFaults();
      server.inject("internalError", { action: "CreateRoute", count: 1000 });
      await log.waitFor(
        new RegExp(`ERROR route\\.failed route_table_id=${tableA2} .*code=InternalError`),
        40_000,
      );
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, all);
    });

    await t.step("Describe answers slower than the client timeout", async () => {
      const log = logFrom(router);
      server.delay(2500, { action: "DescribeRouteTables" });
      vpc.ec2.deleteRoute(tableB, "0.0.0.0/0");
      await log.waitFor(
        /ERROR discovery\.failed action=DescribeRouteTables code=TimeoutError error="Request did not complete within 2000 ms/,
        20_000,
      );
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, all);
    });

    await t.step("writes answered after the timeout: failed, then not looped", async () => {
      const log = logFrom(router);
      server.delay(2500, { action: "ReplaceRoute" });
      await vpc.nat(b1).setMode("refusing");
      await log.waitFor(
        new RegExp(`ERROR route\\.failed route_table_id=${tableB} .*code=TimeoutError`),
        60_000,
      );
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, [a1, a2]);
      // A reconcile queued behind the slow one may repeat each failed write once (on its
      // older view; the SDK may retry that one if it too was slowed); from the next read on,
      // the late writes show as applied and nothing more is written.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      for (const table of vpc.fleet.tablesByZone[vpc.fleet.zones[1]!]!) {
        const outcomes = log.grep(new RegExp(`route\\.\\w+ route_table_id=${table} `));
        assert.ok(outcomes.length <= 2, `one failure, at most one repeat:\n${outcomes.join("\n")}`);
      }
      const quiet = logFrom(router);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(
        quiet.grep(/route\.\w+ /),
        [],
        "no write once the read shows the late writes",
      );
      await vpc.nat(b1).setMode("up");
      await assertConverged(vpc, before, all);
    });

    await t.step("connections dropped mid-answer, on Describe and on a write", async () => {
      const log = logFrom(router);
      server.inject("drop", { action: "DescribeInstances", count: 1000 });
      vpc.ec2.deleteRoute(tableA, "0.0.0.0/0");
      await log.waitFor(/ERROR discovery\.failed action=DescribeInstances code=NetworkError/);
      running.assertRunning();
      server.clearFaults();
      await assertConverged(vpc, before, all);
      // A write whose connection drops is retried at once (the SDK does not retry it).
      server.inject("drop", { action: "CreateRoute", count: 1 });
      vpc.ec2.deleteRoute(tableA2, "0.0.0.0/0");
      await log.waitFor(new RegExp(`route\\.created route_table_id=${tableA2} `));
      await assertConverged(vpc, before, all);
      assert.ok(
        server.calls.some((c) =>
          c.errorCode === "ConnectionDropped" && c.params.RouteTableId === tableA2
        ),
      );
      assert.deepEqual(log.grep(/route\.failed/), []);
    });
  } finally {
    server.clearFaults();
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await vpc.close();
  }
});

Deno.test("router settles races with another writer between its read and its write", async (t) => {
  const vpc = await SimVpc.standard();
  const proxy = new Ec2Proxy(vpc.ec2Endpoint);
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const all = [a1, a2, b1];
  const zoneA = vpc.fleet.tablesByZone[vpc.fleet.zones[0]!] as [string, string];
  const zoneB = vpc.fleet.tablesByZone[vpc.fleet.zones[1]!] as [string, string];
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: proxy.endpoint }, {
      ...vpc.routerEnv(),
      AWS_ENDPOINT_URL_EC2: proxy.endpoint,
    }),
  });
  const running = watch(router);
  /** Runs `act` once, when the router's first `action` call for `table` arrives. */
  const onWrite = (action: string, table: string, act: () => void) => {
    proxy.onCall = (call) => {
      if (call.action !== action || call.params.get("RouteTableId") !== table) return;
      proxy.onCall = undefined;
      act();
    };
  };
  try {
    const before = vpc.ec2.snapshot();
    await assertConverged(vpc, before, all);

    await t.step(
      "CreateRoute loses to a route created meanwhile (RouteAlreadyExists)",
      async () => {
        const log = logFrom(router);
        const [table] = zoneA;
        onWrite("CreateRoute", table, () =>
          vpc.ec2.setRoute(table, {
            destinationCidrBlock: "0.0.0.0/0",
            gatewayId: vpc.fleet.internetGatewayId,
          }));
        vpc.ec2.deleteRoute(table, "0.0.0.0/0");
        await log.waitFor(
          new RegExp(`INFO route\\.replaced route_table_id=${table} .*raced=RouteAlreadyExists`),
        );
        assert.ok(
          vpc.ec2Server.calls.some((c) =>
            c.action === "CreateRoute" && c.errorCode === "RouteAlreadyExists" &&
            c.params.RouteTableId === table
          ),
        );
        running.assertRunning();
        await assertConverged(vpc, before, all);
      },
    );

    await t.step(
      "ReplaceRoute loses to the route deleted meanwhile (InvalidParameterValue)",
      async () => {
        const log = logFrom(router);
        const [table] = zoneB;
        onWrite("ReplaceRoute", table, () => vpc.ec2.deleteRoute(table, "0.0.0.0/0"));
        await vpc.nat(b1).setMode("refusing");
        await log.waitFor(
          new RegExp(`INFO route\\.created route_table_id=${table} .*raced=InvalidParameterValue`),
        );
        running.assertRunning();
        await assertConverged(vpc, before, [a1, a2]);
        await vpc.nat(b1).setMode("up");
        await assertConverged(vpc, before, all);
      },
    );

    await t.step("a route table deleted meanwhile fails alone and is forgotten", async () => {
      const log = logFrom(router);
      const [, table] = zoneB;
      onWrite("ReplaceRoute", table, () => vpc.ec2.deleteRouteTable(table));
      await vpc.nat(b1).setMode("refusing");
      await log.waitFor(
        new RegExp(
          `ERROR route\\.failed route_table_id=${table} .*code=InvalidRouteTableID\\.NotFound`,
        ),
      );
      running.assertRunning();
      await assertConverged(vpc, before, [a1, a2]);
      await vpc.nat(b1).setMode("up");
      await assertConverged(vpc, before, all);
      const failed = log.grep(new RegExp(`route\\.failed route_table_id=${table} `));
      assert.equal(failed.length, 1, `the deleted table is not retried:\n${failed.join("\n")}`);
    });
  } finally {
    proxy.onCall = undefined;
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await proxy.close();
    await vpc.close();
  }
});

Deno.test("router exits 0 within 5 s on SIGTERM amid 50 slow writes, each route old or new", async () => {
  const vpc = await SimVpc.standard({ tablesPerZone: 0 });
  const { clusterId, zones, natIds } = vpc.fleet;
  // Each table's default route goes to a managed NAT gateway: a target the router takes over.
  const natGatewayId = "nat-0f1e2d3c4b5a69788";
  const tables = Array.from({ length: 50 }, (_, n) =>
    vpc.addRouteTable({
      tags: { [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zones[n % zones.length]! },
      routes: [{ destinationCidrBlock: "0.0.0.0/0", natGatewayId }],
    }));
  vpc.ec2Server.delay(300, { action: "ReplaceRoute" });
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  try {
    await router.waitFor(/route\.replaced /);
    const started = performance.now();
    assert.equal(await router.stop("SIGTERM"), 0, router.lines.slice(-10).join("\n"));
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 5000, `exited after ${Math.round(tookMs)} ms`);
    const moved = tables.filter((table) => vpc.ec2.defaultRouteTarget(table) !== natGatewayId);
    for (const table of tables) {
      const route = vpc.ec2.routeTable(table)?.routes.find((r) =>
        r.destinationCidrBlock === "0.0.0.0/0"
      );
      assert.ok(route, `${table} lost its default route`);
      const old = route.natGatewayId === natGatewayId && route.instanceId === undefined;
      const fresh = route.natGatewayId === undefined && natIds.includes(route.instanceId ?? "") &&
        vpc.ec2.instance(route.instanceId!)?.networkInterfaces[0]?.networkInterfaceId ===
          route.networkInterfaceId;
      assert.ok(old || fresh, `${table} is half-written: ${JSON.stringify(route)}`);
    }
    assert.ok(moved.length > 0 && moved.length < tables.length, `${moved.length} of 50 moved`);
    assert.equal(
      router.grep(/route\.replaced /).length,
      moved.length,
      "every write that reached EC2 was logged, and only those",
    );
    assert.equal(
      vpc.ec2Server.calls.filter((c) => WRITES.includes(c.action)).length,
      moved.length,
      "no write was left in flight",
    );
    assert.match(router.lines.at(-1) ?? "", /router\.stopped/);
  } finally {
    await router.stop();
    vpc.ec2Server.clearFaults();
    await vpc.close();
  }
});
