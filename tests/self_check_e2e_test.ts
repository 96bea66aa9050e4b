/**
 * @module End-to-end: `--self-check` with `--serve-health` on the simulated VPC. One NAT's
 * simulated health listener is replaced by its own router's health port (the router binds
 * the NAT's 127.x private address at the peers' `--port`); a peer router (the oldest NAT,
 * the leader) probes it like any other NAT. The verdict is driven through a loopback egress
 * target the test opens and closes, and through the simulator's source/dest check; the
 * ip_forward file is a temp file (this machine's own /proc value is not under test).
 */
import assert from "node:assert/strict";
import { FAST, misrouting, routerArgs, stopAll, targets, waitUntil } from "./e2e.ts";
import { type RouterProcess, simEnv, startRouter } from "./router_process.ts";
import { NatListener, probeTcp } from "./sim/nat.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";

/** The router on `instanceId`, as the fleet runs it (`--ec2-election`). */
function routerOn(
  vpc: StandardVpc,
  instanceId: string,
  name: string,
  extra: { args?: readonly string[]; env?: Record<string, string>; flags?: readonly string[] },
): RouterProcess {
  return startRouter({
    name,
    args: routerArgs(vpc, ["--ec2-election", "--log-level", "info", ...FAST, ...extra.args ?? []]),
    env: simEnv(
      { ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(instanceId) },
      { AWS_REGION: vpc.region, ...extra.env },
    ),
    ...(extra.flags ? { flags: extra.flags } : {}),
  });
}

/**
 * The self-check's transitions, in order. On a loaded machine the very first egress connect
 * can time out before the sink answers: a `failed` at start-up is then a real (and logged)
 * transition, and is left out so the steps below count the same on any machine.
 */
function transitions(router: RouterProcess): string[] {
  const seen = router.grep(/ self_check\.(passed|failed) /).map((line) =>
    / self_check\.(passed|failed) /.exec(line)?.[1] ?? "?"
  );
  return seen[0] === "failed" ? seen.slice(1) : seen;
}

Deno.test("self-check: a NAT that cannot forward closes its health port and is failed over", async (t) => {
  const vpc = await SimVpc.standard();
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const b1Ip = vpc.ec2.instance(b1)?.privateIp;
  assert.ok(b1Ip, "b1 has a private address");
  // Nobody is the leader before the routers start: the NATs come up as a leader left them.
  for (const id of vpc.fleet.natIds) vpc.ec2.setSourceDestCheck(id, false);
  // The router's own health port takes the place of the simulated one.
  await vpc.nat(b1).setMode("refusing");
  const egress = new NatListener(["127.0.0.1"], 0);
  const ipForward = await Deno.makeTempFile({ prefix: "ip_forward" });
  await Deno.writeTextFile(ipForward, "1\n");

  const peer = routerOn(vpc, a1, "peer-a1", {});
  const checked = routerOn(vpc, b1, "self-checked-b1", {
    args: [
      "--self-check",
      "--egress-check",
      `127.0.0.1:${egress.port}`,
      "--serve-health",
      String(vpc.healthPort),
    ],
    env: {
      AWS_NAT_ROUTER_IP_FORWARD_PATH: ipForward,
      AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS: b1Ip,
    },
    // The temp file instead of /proc/sys/net/ipv4/ip_forward (a flag replaces the set's list).
    flags: [`--allow-read=${ipForward},/root/.aws`],
  });
  const healthPort = async () => (await probeTcp(b1Ip, vpc.healthPort, 500)).outcome;
  /** Waits until b1's health port answers `outcome` (the log line comes just before the switch). */
  const portBecomes = async (outcome: "connected" | "refused") => {
    let last = await healthPort();
    for (let n = 0; last !== outcome && n < 40; n++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      last = await healthPort();
    }
    assert.equal(last, outcome, `b1's health port ${b1Ip}:${vpc.healthPort}`);
  };
  const zoneB = vpc.fleet.tablesByZone[vpc.fleet.zones[1]!] ?? [];
  const onB1 = () => zoneB.every((table) => vpc.ec2.defaultRouteTarget(table) === b1);
  const noneOnB1 = () => Object.values(targets(vpc)).every((target) => target !== b1);

  try {
    await t.step("egress target up: the health port answers and b1 serves its zone", async () => {
      await checked.waitFor(/INFO self_check\.started instance_id=i-\S+ .*egress=127\.0\.0\.1:/);
      await checked.waitFor(/INFO self_check\.passed /);
      await checked.waitFor(new RegExp(`health_server\\.listening address=${b1Ip}:`));
      await portBecomes("connected");
      await waitUntil(
        `every table allocated, zone b's on b1: ${JSON.stringify(targets(vpc))}`,
        () => misrouting(vpc, [a1, a2, b1]) === undefined && onB1(),
      );
    });

    await t.step(
      "egress target closed: after --fall the port refuses and the peer moves b1's tables",
      async () => {
        await egress.setMode("refusing");
        await checked.waitFor(
          /WARN self_check\.failed reason=egress_unreachable detail=.*egress 127\.0\.0\.1:\d+ refused/,
        );
        await portBecomes("refused");
        await peer.waitFor(new RegExp(`health\\.changed instance_id=${b1} healthy=false`));
        await waitUntil(
          `b1's tables moved to a1/a2: ${JSON.stringify(targets(vpc))}`,
          () => misrouting(vpc, [a1, a2]) === undefined && noneOnB1(),
        );
      },
    );

    await t.step(
      "egress target back: the port answers again and b1 gets its zone back",
      async () => {
        await egress.setMode("up");
        await waitUntil("a second self_check.passed", () => transitions(checked).length >= 3);
        await portBecomes("connected");
        await waitUntil(
          `zone b's tables back on b1: ${JSON.stringify(targets(vpc))}`,
          () => misrouting(vpc, [a1, a2, b1]) === undefined && onB1(),
        );
      },
    );

    await t.step(
      "source/dest check on (no leader to fix it): the node turns its own check off",
      async () => {
        assert.equal(await peer.stop(), 0, "the peer leader stopped cleanly");
        vpc.ec2.setSourceDestCheck(b1, true);
        await checked.waitFor(
          new RegExp(`INFO source_dest_check\\.disabled instance_id=${b1} .*by=self_check`),
        );
        assert.ok(vpc.ec2Server.callCount("ModifyInstanceAttribute") >= 1, "through EC2");
        await portBecomes("connected");
      },
    );

    await t.step("ip_forward 0: the port refuses until it is 1 again", async () => {
      await Deno.writeTextFile(ipForward, "0\n");
      await checked.waitFor(/WARN self_check\.failed reason=ip_forward_off detail=/);
      await portBecomes("refused");
      await Deno.writeTextFile(ipForward, "1\n");
      await waitUntil("self_check.passed again", () => transitions(checked).length >= 5);
      await portBecomes("connected");
    });

    await t.step("it logged transitions only: passed and failed alternate", () => {
      assert.deepEqual(
        transitions(checked),
        ["passed", "failed", "passed", "failed", "passed"],
        checked.grep(/self_check\./).join("\n"),
      );
      assert.equal(checked.grep(/ ERROR /).length, 0, checked.grep(/ ERROR /).join("\n"));
    });
  } finally {
    await stopAll([checked]);
    await peer.stop();
    await egress.close();
    await vpc.close();
    await Deno.remove(ipForward);
  }
  assert.equal(
    (await probeTcp(b1Ip, vpc.healthPort, 500)).outcome,
    "refused",
    "port closed on stop",
  );
});

Deno.test("--serve-health alone keeps the port open; --self-check alone says peers cannot see it", async (t) => {
  const vpc = await SimVpc.standard();
  const [, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const a2Ip = vpc.ec2.instance(a2)?.privateIp;
  assert.ok(a2Ip, "a2 has a private address");
  await vpc.nat(a2).setMode("refusing");
  const before = vpc.ec2.snapshot();
  // Dry runs: two acting routers must not both write.
  const served = startRouter({
    name: "serve-health-only",
    args: routerArgs(vpc, [...FAST, "--dry-run", "--serve-health", String(vpc.healthPort)]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, {
      ...vpc.routerEnv(),
      AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS: a2Ip,
    }),
  });
  const unseen = startRouter({
    name: "self-check-only",
    args: routerArgs(vpc, [...FAST, "--dry-run", "--self-check"]),
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(b1) }, { AWS_REGION: vpc.region }),
  });
  try {
    await t.step(
      "--serve-health without --self-check answers, with no identity needed",
      async () => {
        await served.waitFor(new RegExp(`health_server\\.listening address=${a2Ip}:`));
        assert.equal((await probeTcp(a2Ip, vpc.healthPort, 500)).outcome, "connected");
        await served.waitFor(new RegExp(`health\\.changed instance_id=${a2} healthy=true`));
        assert.equal(served.grep(/identity\.resolved|self_check\./).length, 0);
      },
    );

    await t.step("--self-check without --serve-health logs an error and still checks", async () => {
      await unseen.waitFor(/ERROR self_check\.not_served .*peers cannot see/);
      await unseen.waitFor(new RegExp(`identity\\.resolved instance_id=${b1}`));
      await unseen.waitFor(/ self_check\.(passed|failed) .*serving=none/);
    });
    assert.deepEqual(vpc.ec2.snapshot(), before, "dry runs changed nothing");
  } finally {
    await stopAll([served, unseen]);
    await vpc.close();
  }
});
