/**
 * End-to-end, planned departures (issue 13), loopback world: the real program against the
 * simulated VPC. `drain` on a NAT instance moves its route tables to the NATs the normal
 * rules pick and returns once EC2 shows none on it; the leader role passes on; the drained
 * NAT gets nothing back until `undrain`; a spot interruption notice and an Auto Scaling
 * termination drain the node by themselves; a plain restart of a router moves nothing; bad
 * input is one line, exit 2, nothing changed. (Packets lost are counted in the namespace
 * world, tests/netns/.)
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_DRAINING } from "../lib/model.ts";
import {
  FAST,
  misrouting,
  routerArgs,
  startFleet,
  stopAll,
  waitUntil,
  waitUntilRouted,
} from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
import type { RouterProcess } from "./router_process.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";

/** Runs `aws-nat-router <verb> ...` as `instanceId` would on its own host. */
function runAs(vpc: StandardVpc, verb: string, instanceId: string | undefined) {
  return runRouter({
    args: [verb, ...routerArgs(vpc, FAST)],
    env: simEnv(
      { ec2: vpc.ec2Endpoint, ...(instanceId ? { imds: vpc.imdsEndpoint(instanceId) } : {}) },
      { AWS_REGION: vpc.region },
    ),
  });
}

/** The tagged route tables whose default route points at `instanceId`. */
function tablesOn(vpc: StandardVpc, instanceId: string): string[] {
  return vpc.fleet.routeTableIds.filter((t) => vpc.ec2.defaultRouteTarget(t) === instanceId);
}

/** The one line a failed subcommand printed, and that it printed nothing else. */
function oneLine(run: { stderr: string[]; stdout: string[] }): string {
  const lines = [...run.stderr, ...run.stdout].filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `expected one line, got:\n${lines.join("\n")}`);
  return lines[0]!;
}

Deno.test("drain and undrain by command: tables move away, the leader passes on, bad input changes nothing", async (t) => {
  const vpc = await SimVpc.standard();
  const { natIds, zones, tablesByZone } = vpc.fleet;
  const [a1, a2, b1] = natIds as [string, string, string];
  let routers: RouterProcess[] = [];
  try {
    routers = startFleet(vpc);
    await waitUntilRouted("the fleet has converged", vpc, natIds);
    await routers[0]!.waitFor(new RegExp(`leader\\.changed leader=${a1} .*role=leader`));

    await t.step("drain on the leader: exit 0 once EC2 shows no table on it", async () => {
      const onLeader = tablesOn(vpc, a1);
      assert.ok(onLeader.length > 0, "the leader had a route table before the drain");
      const writesBefore = vpc.ec2.routeWrites.length;
      const run = await runAs(vpc, "drain", a1);
      assert.equal(run.code, 0, run.stderr.join("\n"));
      assert.deepEqual(tablesOn(vpc, a1), [], "no table points at the drained NAT");
      assert.ok(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], "the instance carries the mark");
      assert.equal(misrouting(vpc, [a2, b1]), undefined);
      for (const table of tablesByZone[zones[0]!]!) {
        assert.equal(vpc.ec2.defaultRouteTarget(table), a2, `${table} stays in its zone`);
      }
      // Each table that was on it moved once, to one NAT (a repeated write of that same target,
      // from a node that read the mark before the move, resets nothing), and no other table.
      const writes = vpc.ec2.routeWrites.slice(writesBefore);
      assert.deepEqual(
        [...new Set(writes.map((w) => w.routeTableId))].sort(),
        [...onLeader].sort(),
      );
      for (const table of onLeader) {
        const to = new Set(
          writes.filter((w) => w.routeTableId === table).map((w) =>
            w.networkInterfaceId ?? w.instanceId
          ),
        );
        assert.equal(to.size, 1, `${table} moved once`);
      }
      assert.ok(run.stderr.some((l) => /drain\.done instance_id=/.test(l)), run.stderr.join("\n"));
    });

    await t.step("the leader role passes to the next oldest NAT", async () => {
      await routers[1]!.waitFor(new RegExp(`leader\\.changed leader=${a2} .*role=leader`));
      await routers[0]!.waitFor(new RegExp(`leader\\.changed leader=${a2} .*role=follower`));
    });

    await t.step("the drained NAT receives no table while it is draining", async () => {
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // three --interval 1s cycles
      assert.deepEqual(tablesOn(vpc, a1), []);
    });

    await t.step("status shows it draining", async () => {
      const run = await runRouter({
        args: ["status", ...routerArgs(vpc, FAST)],
        env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
      });
      assert.equal(run.code, 0, run.stderr.join("\n"));
      const row = run.stdout.find((l) => l.includes(a1)) ?? "";
      assert.match(row, /draining/, run.stdout.join("\n"));
    });

    await t.step("drain twice: one line, exit 2, nothing changed", async () => {
      const before = vpc.ec2.snapshot();
      const run = await runAs(vpc, "drain", a1);
      assert.equal(run.code, 2);
      assert.match(oneLine(run), /^aws-nat-router: Cannot drain i-\S+: it is already draining/);
      assert.deepEqual(vpc.ec2.snapshot(), before);
    });

    await t.step("undrain: exit 0, the mark is gone, and the NAT takes a table back", async () => {
      const run = await runAs(vpc, "undrain", a1);
      assert.equal(run.code, 0, run.stderr.join("\n"));
      assert.equal(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], undefined);
      await waitUntil("the undrained NAT has a table again", () => tablesOn(vpc, a1).length > 0);
      await waitUntilRouted("the fleet has converged again", vpc, natIds);
    });

    await t.step(
      "undrain of a node that is not draining: one line, exit 2, nothing changed",
      async () => {
        const before = vpc.ec2.snapshot();
        const run = await runAs(vpc, "undrain", a2);
        assert.equal(run.code, 2);
        assert.match(oneLine(run), /^aws-nat-router: Cannot undrain i-\S+: it is not draining/);
        assert.deepEqual(vpc.ec2.snapshot(), before);
      },
    );

    await t.step(
      "drain without identity (no metadata service): one line, exit 2, nothing changed",
      async () => {
        const before = vpc.ec2.snapshot();
        const run = await runAs(vpc, "drain", undefined);
        assert.equal(run.code, 2);
        assert.match(
          oneLine(run),
          /^aws-nat-router: Cannot drain: this instance's identity is unknown: .*; run drain on the NAT instance itself/,
        );
        assert.deepEqual(vpc.ec2.snapshot(), before);
      },
    );

    await t.step(
      "drain on an instance outside the cluster: one line, exit 2, nothing changed",
      async () => {
        const stranger = vpc.addInstance({ zone: zones[1]!, tags: { [TAG_CLUSTER_ID]: "other" } });
        const before = vpc.ec2.snapshot();
        const run = await runAs(vpc, "drain", stranger);
        assert.equal(run.code, 2);
        assert.match(
          oneLine(run),
          /^aws-nat-router: Cannot drain i-\S+: it is not a running NAT instance of cluster "squid" in vpc-/,
        );
        assert.deepEqual(vpc.ec2.snapshot(), before);
      },
    );

    await stopAll(routers);
    routers = [];
  } finally {
    await Promise.all(routers.map((r) => r.kill()));
    await vpc.close();
  }
});

Deno.test("a spot interruption notice and an Auto Scaling termination drain the node by themselves", async (t) => {
  const vpc = await SimVpc.standard();
  const { natIds } = vpc.fleet;
  const [a1, a2, b1] = natIds as [string, string, string];
  let routers: RouterProcess[] = [];
  try {
    vpc.imds(b1).lifeCycle = "spot"; // a spot instance, known to its router from the start
    vpc.imds(a1).lifecycleState = "InService"; // in an Auto Scaling group from the start
    routers = startFleet(vpc);
    await waitUntilRouted("the fleet has converged", vpc, natIds);

    await t.step("spot/instance-action on b1: its tables leave it, it is marked", async () => {
      assert.ok(tablesOn(vpc, b1).length > 0);
      vpc.imds(b1).spotInstanceAction = { action: "terminate", time: Date.now() + 120_000 };
      await routers[2]!.waitFor(/drain\.started instance_id=\S+ reason=spot_interruption/);
      await waitUntil("no table points at b1", () => tablesOn(vpc, b1).length === 0, 5_000);
      assert.ok(vpc.ec2.instance(b1)!.tags[TAG_DRAINING]);
      assert.equal(misrouting(vpc, [a1, a2]), undefined);
    });

    await t.step(
      "target-lifecycle-state Terminated on a1 (the leader): a2 takes over",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        assert.equal(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], undefined, "InService is no notice");
        vpc.imds(a1).lifecycleState = "Terminated";
        await routers[0]!.waitFor(/drain\.started instance_id=\S+ reason=asg_termination/);
        await waitUntil("no table points at a1", () => tablesOn(vpc, a1).length === 0, 5_000);
        assert.equal(misrouting(vpc, [a2]), undefined);
        await routers[1]!.waitFor(new RegExp(`leader\\.changed leader=${a2} .*role=leader`));
      },
    );

    await stopAll(routers);
    routers = [];
  } finally {
    await Promise.all(routers.map((r) => r.kill()));
    await vpc.close();
  }
});

Deno.test("a plain restart of a router moves nothing, and an expired mark blocks nothing", async (t) => {
  const vpc = await SimVpc.standard();
  const { natIds } = vpc.fleet;
  const [a1] = natIds as [string, string, string];
  let routers: RouterProcess[] = [];
  try {
    routers = startFleet(vpc);
    await waitUntilRouted("the fleet has converged", vpc, natIds);

    await t.step("SIGTERM and start again, leader and follower: 0 route writes", async () => {
      const writes = vpc.ec2.routeWrites.length;
      for (const n of [0, 2]) {
        assert.equal(await routers[n]!.stop(), 0);
        const id = natIds[n]!;
        routers[n] = startRouter({
          name: `router-${n + 1}-again`,
          args: routerArgs(vpc, ["--ec2-election", ...FAST]),
          env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, {
            AWS_REGION: vpc.region,
          }),
        });
        await routers[n]!.waitFor(/router\.ready/);
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(vpc.ec2.routeWrites.length, writes, "no route was written");
    });

    await t.step("a mark older than its expiry (1 h) is ignored", async () => {
      const writes = vpc.ec2.routeWrites.length;
      vpc.ec2.setTags(a1, { [TAG_DRAINING]: new Date(Date.now() - 2 * 3600_000).toISOString() });
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(vpc.ec2.routeWrites.length, writes, "no route was written");
      assert.ok(tablesOn(vpc, a1).length > 0);
    });

    await stopAll(routers);
    routers = [];
  } finally {
    await Promise.all(routers.map((r) => r.kill()));
    await vpc.close();
  }
});

Deno.test("coming back: a node clears a mark set before its boot once healthy, not one set since", async (t) => {
  const vpc = await SimVpc.standard();
  const { natIds } = vpc.fleet;
  const [a1, a2, b1] = natIds as [string, string, string];
  let routers: RouterProcess[] = [];
  const restart = async (bootedAt: number | undefined) => {
    await routers[0]!.stop();
    routers[0] = startRouter({
      name: "router-1-again",
      args: routerArgs(vpc, ["--ec2-election", ...FAST]),
      env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a1) }, {
        AWS_REGION: vpc.region,
        ...(bootedAt === undefined
          ? {}
          : { AWS_NAT_ROUTER_BOOTED_AT: new Date(bootedAt).toISOString() }),
      }),
    });
    await routers[0]!.waitFor(/router\.ready/);
  };
  try {
    routers = startFleet(vpc);
    await waitUntilRouted("the fleet has converged", vpc, natIds);
    const drained = await runAs(vpc, "drain", a1);
    assert.equal(drained.code, 0, drained.stderr.join("\n"));

    await t.step("a router restart (no reboot) keeps an operator's mark", async () => {
      await restart(undefined);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.ok(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], "the mark stays");
      assert.deepEqual(tablesOn(vpc, a1), []);
      assert.deepEqual(routers[0]!.grep(/drain\.cleared/), []);
    });

    await t.step(
      "after a reboot, the node clears its mark once healthy and takes tables back",
      async () => {
        await restart(Date.now());
        await routers[0]!.waitFor(/drain\.cleared instance_id=\S+ reason=healthy_after_boot/);
        assert.equal(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], undefined);
        await waitUntil("a1 carries a table again", () => tablesOn(vpc, a1).length > 0);
        await waitUntilRouted("the fleet has converged again", vpc, [a1, a2, b1]);
      },
    );

    await stopAll(routers);
    routers = [];
  } finally {
    await Promise.all(routers.map((r) => r.kill()));
    await vpc.close();
  }
});
