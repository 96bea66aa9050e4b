/**
 * End-to-end: the real program (real AWS SDK, audited permission set plus loopback) against
 * the simulated VPC. Asserts the end state of the route tables, the log lines and the EC2
 * call log, never the order of calls.
 */
import assert from "node:assert/strict";
import {
  assertOnlyOwnRoutesChanged,
  FAST,
  misrouting,
  routerArgs,
  startFleet,
  stopAll,
  targets,
  waitUntil,
  waitUntilRouted,
} from "./e2e.ts";
import { type RouterProcess, runRouter, simEnv, startRouter } from "./router_process.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";

const WRITES = ["CreateRoute", "ReplaceRoute", "ModifyInstanceAttribute"];

function env(vpc: SimVpc, extra: Record<string, string> = {}) {
  return simEnv({ ec2: vpc.ec2Endpoint }, { ...vpc.routerEnv(), ...extra });
}

Deno.test("router --once allocates every zone's tables and touches nothing else", async () => {
  const vpc = await SimVpc.standard();
  try {
    const before = vpc.ec2.snapshot();
    const { code, stderr } = await runRouter({
      args: routerArgs(vpc, ["--once"]),
      env: env(vpc),
    });
    assert.equal(code, 0, stderr.join("\n"));
    const { natsByZone, zones } = vpc.fleet;
    const problem = misrouting(vpc, vpc.fleet.natIds);
    assert.equal(problem, undefined, `${problem}; targets now: ${JSON.stringify(targets(vpc))}`);
    const load = Object.values(targets(vpc)).reduce<Record<string, number>>((acc, id) => {
      acc[id!] = (acc[id!] ?? 0) + 1;
      return acc;
    }, {});
    assert.deepEqual(Object.values(load).sort(), [2, 2, 2], "6 tables spread 2 per NAT");
    assert.equal(natsByZone[zones[2]!]?.length, 0, "zone c has no NAT");
    for (const id of vpc.fleet.natIds) {
      assert.equal(vpc.ec2.instance(id)?.networkInterfaces[0]?.sourceDestCheck, false);
    }
    assertOnlyOwnRoutesChanged(before, vpc.ec2.snapshot(), vpc.vpcId);
    assert.equal(stderr.filter((l) => l.includes("route.created")).length, 6);
    assert.ok(stderr.every((l) => !l.includes(" ERROR ")), stderr.join("\n"));
  } finally {
    await vpc.close();
  }
});

Deno.test("router --once --dry-run logs each change and changes nothing", async () => {
  const vpc = await SimVpc.standard();
  try {
    const before = vpc.ec2.snapshot();
    const { code, stderr } = await runRouter({
      args: routerArgs(vpc, ["--once", "--dry-run"]),
      env: env(vpc),
    });
    assert.equal(code, 0, stderr.join("\n"));
    assert.deepEqual(vpc.ec2.snapshot(), before);
    assert.equal(WRITES.reduce((n, a) => n + vpc.ec2Server.callCount(a), 0), 0);
    assert.equal(
      stderr.filter((l) => /route\.planned dry_run=true action=create/.test(l)).length,
      6,
    );
    assert.equal(stderr.filter((l) => l.includes("source_dest_check.planned")).length, 3);
  } finally {
    await vpc.close();
  }
});

Deno.test("router --once with the original systemd unit's flags and LOG_LEVEL=INFO", async () => {
  const vpc = await SimVpc.standard();
  try {
    const id = vpc.fleet.natIds[0]!;
    const { code, stderr } = await runRouter({
      args: [
        "--vpc-id",
        vpc.vpcId,
        "--cluster-id",
        "squid",
        "--ec2-election",
        "--timeout",
        "500ms",
        "--interval",
        "5s",
        "--port",
        String(vpc.healthPort),
        "--once",
      ],
      env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, {
        LOG_LEVEL: "INFO",
        AWS_REGION: vpc.region,
      }),
    });
    assert.equal(code, 0, stderr.join("\n"));
    assert.ok(
      stderr.some((l) => /INFO identity\.resolved instance_id=/.test(l)),
      stderr.join("\n"),
    );
    assert.ok(stderr.every((l) => !l.includes(" DEBUG ")), "LOG_LEVEL=INFO hides debug lines");
    assert.equal(misrouting(vpc, vpc.fleet.natIds), undefined);
  } finally {
    await vpc.close();
  }
});

Deno.test("router: every bad invocation exits 2 with one line and no API call", async (t) => {
  const { BAD_INPUT_CASES } = await import("./bad_input_cases.ts");
  const vpc = await SimVpc.start();
  try {
    const results = [];
    for (let i = 0; i < BAD_INPUT_CASES.length; i += 4) {
      results.push(
        ...await Promise.all(
          BAD_INPUT_CASES.slice(i, i + 4).map((c) =>
            runRouter({
              args: c.args,
              env: simEnv({ ec2: vpc.ec2Endpoint }, { ...vpc.routerEnv(), ...c.env }),
            })
          ),
        ),
      );
    }
    for (const [n, c] of BAD_INPUT_CASES.entries()) {
      const { code, stderr, stdout } = results[n]!;
      await t.step(c.name, () => {
        assert.equal(code, 2, `exit code for ${c.name}: ${stderr.join("\n")}`);
        assert.equal(stderr.length, 1, `one line on stderr, got:\n${stderr.join("\n")}`);
        assert.equal(stdout.length, 0);
        assert.ok(stderr[0]!.includes(c.mentions), `"${stderr[0]}" names ${c.mentions}`);
      });
    }
    assert.equal(vpc.ec2Server.calls.length, 0, "no EC2 call for bad input");
    for (const id of vpc.ec2.instances().map((i) => i.instanceId)) {
      assert.equal(vpc.imds(id).requestCount, 0);
    }
  } finally {
    await vpc.close();
  }
});

Deno.test("router daemon: fails over a refusing and a silent NAT, then fails back", async (t) => {
  const vpc = await SimVpc.standard();
  const router = startRouter({ args: routerArgs(vpc, FAST), env: env(vpc) });
  try {
    const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
    await waitUntilRouted("the initial allocation", vpc, [a1, a2, b1]);
    const before = vpc.ec2.snapshot();

    await t.step("a refusing NAT's tables move to healthy NATs", async () => {
      await vpc.nat(b1).setMode("refusing");
      await waitUntilRouted("b1's tables moved", vpc, [a1, a2]);
      await router.waitFor(/WARN health\.changed instance_id=\S+ healthy=false .*error=refused/);
      await router.waitFor(/route\.replaced .*reason=nat_unhealthy/);
    });

    await t.step("it comes back to its zone after rise and the failback delay", async () => {
      await vpc.nat(b1).setMode("up");
      await waitUntilRouted("b1 got its zone's tables back", vpc, [a1, a2, b1]);
      await router.waitFor(/route\.replaced .*reason=zone_preference/);
    });

    await t.step("a silent NAT (connects time out) fails over too", async () => {
      await vpc.nat(a1).setMode("silent");
      await waitUntilRouted("a1's tables moved", vpc, [a2, b1]);
      await router.waitFor(/health\.changed instance_id=\S+ healthy=false .*error=timeout/);
      await vpc.nat(a1).setMode("up");
      await waitUntilRouted("a1 back", vpc, [a1, a2, b1]);
    });

    await t.step("nothing outside the tagged default routes changed", () => {
      assertOnlyOwnRoutesChanged(before, vpc.ec2.snapshot(), vpc.vpcId);
    });
  } finally {
    assert.equal(await router.stop(), 0);
    await vpc.close();
  }
});

Deno.test("router daemon: repairs a blackholed route and one deleted behind its back", async (t) => {
  const vpc = await SimVpc.standard();
  const router = startRouter({ args: routerArgs(vpc, FAST), env: env(vpc) });
  try {
    const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
    await waitUntilRouted("the initial allocation", vpc, [a1, a2, b1]);

    await t.step("a stopped NAT's routes (blackhole) move", async () => {
      vpc.ec2.stopInstance(a2);
      await waitUntilRouted("a2's tables moved", vpc, [a1, b1]);
    });

    await t.step("a deleted default route is created again", async () => {
      const table = vpc.fleet.routeTableIds[0]!;
      vpc.ec2.deleteRoute(table, "0.0.0.0/0");
      await waitUntilRouted("the route was recreated", vpc, [a1, b1]);
      await router.waitFor(/route\.created route_table_id=\S+ from=- .*reason=no_route/);
    });

    await t.step("a route pointed elsewhere behind its back is taken back", async () => {
      const table = vpc.fleet.routeTableIds[1]!;
      vpc.ec2.setRoute(table, {
        destinationCidrBlock: "0.0.0.0/0",
        gatewayId: vpc.fleet.internetGatewayId,
      });
      await waitUntilRouted("the route was taken back", vpc, [a1, b1]);
      await router.waitFor(/route\.replaced .*reason=foreign_target/);
    });
  } finally {
    assert.equal(await router.stop(), 0);
    await vpc.close();
  }
});

Deno.test("router fleet with --ec2-election: only the leader writes; a follower takes over", async (t) => {
  const vpc = await SimVpc.standard();
  const routers = startFleet(vpc);
  try {
    const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
    const keyOf = (id: string) => vpc.imds(id).credentials.accessKeyId;
    const writers = () =>
      new Set(
        vpc.ec2Server.calls.filter((c) => WRITES.includes(c.action) && c.status === 200)
          .map((c) => c.accessKeyId),
      );

    await t.step("the oldest NAT leads and is the only writer", async () => {
      await waitUntilRouted("the initial allocation", vpc, [a1, a2, b1]);
      await Promise.all(routers.map((r) => r.waitFor(/leader\.changed leader=/)));
      assert.deepEqual([...writers()], [keyOf(a1)]);
      await routers[1]!.waitFor(new RegExp(`leader=${a1} self=${a2} role=follower`));
    });

    await t.step(
      "when the leader dies, the next oldest takes over and moves its tables",
      async () => {
        await routers[0]!.kill();
        await vpc.nat(a1).setMode("silent");
        await waitUntilRouted("a1's tables moved", vpc, [a2, b1]);
        await routers[1]!.waitFor(new RegExp(`leader=${a2} self=${a2} role=leader`));
        assert.deepEqual([...writers()].sort(), [keyOf(a1), keyOf(a2)].sort());
      },
    );
  } finally {
    await routers[0]!.kill();
    await stopAll(routers.slice(1));
    await vpc.close();
  }
});

Deno.test("router recovery reboots a NAT that stays unhealthy, once per window", async () => {
  const vpc = await SimVpc.standard({ rebootMs: 60_000 });
  // Recovery needs to know which instance it runs on (never itself): the router runs as a1.
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--recovery", "reboot", "--recovery-after", "5s"]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv(vpc.fleet.natIds[0])),
  });
  try {
    const b1 = vpc.fleet.natIds[2]!;
    await waitUntilRouted("the initial allocation", vpc, vpc.fleet.natIds);
    await vpc.nat(b1).setMode("refusing");
    await router.waitFor(new RegExp(`WARN recovery\\.rebooted instance_id=${b1}`), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(vpc.ec2Server.callCount("RebootInstances"), 1, "one reboot inside the window");
  } finally {
    assert.equal(await router.stop(), 0);
    await vpc.close();
  }
});

Deno.test("router exits 0 on SIGTERM in the middle of a batch of writes", async () => {
  const vpc = await SimVpc.standard();
  vpc.ec2Server.delay(400, { action: "CreateRoute" });
  const router = startRouter({ args: routerArgs(vpc, FAST), env: env(vpc) });
  try {
    await waitUntil("the first write arrived", () => vpc.ec2Server.callCount("CreateRoute") > 0);
    const started = performance.now();
    assert.equal(await router.stop("SIGTERM"), 0);
    assert.ok(performance.now() - started < 5000, "exits within 5 s");
    for (const table of vpc.fleet.routeTableIds) {
      const target = vpc.ec2.defaultRouteTarget(table);
      assert.ok(target === undefined || vpc.fleet.natIds.includes(target), "each route old or new");
    }
    assert.match(router.lines.join("\n"), /router\.stopped/);
  } finally {
    await router.stop();
    vpc.ec2Server.clearFaults();
    await vpc.close();
  }
});

Deno.test("router fleet: a stopped or stuck leader router does not stop failover", async (t) => {
  // a1 leads (oldest, its squid answers); its router is stopped or stuck; then b1 dies.
  for (
    const [name, disable] of [
      ["the leader's router stopped", (_vpc: StandardVpc, leader: RouterProcess) => leader.kill()],
      ["the leader's EC2 answers stall after the head", (vpc: StandardVpc) => {
        const key = vpc.imds(vpc.fleet.natIds[0]!).credentials.accessKeyId;
        for (const action of ["DescribeInstances", "DescribeRouteTables", ...WRITES]) {
          vpc.ec2Server.inject("stall", { action, accessKeyId: key, count: 1_000 });
        }
        return Promise.resolve();
      }],
    ] as const
  ) {
    await t.step(`${name}: the next in line moves the dead NAT's tables`, async () => {
      const vpc = await SimVpc.standard();
      const routers = startFleet(vpc);
      try {
        const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
        await waitUntilRouted("the initial allocation", vpc, [a1, a2, b1]);
        await disable(vpc, routers[0]!);
        await vpc.nat(b1).setMode("refusing");
        await waitUntilRouted("b1's tables moved by a2", vpc, [a1, a2], { timeoutMs: 30_000 });
        await routers[1]!.waitFor(new RegExp(`WARN succession\\.acting leader=${a1} self=${a2}`));
        assert.equal(
          routers[2]!.grep(/succession\.acting/).length,
          0,
          "b1's router is not in line: its NAT is down",
        );
      } finally {
        await routers[0]!.kill();
        await stopAll(routers.slice(1));
        await vpc.close();
      }
    });
  }
});
