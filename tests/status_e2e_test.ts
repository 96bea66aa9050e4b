/**
 * @module End-to-end: `aws-nat-router status` (the real program, audited permission set plus
 * loopback) against the simulated VPC. It prints what a cycle would see and decide, as a
 * table or JSON, and makes only Describe calls.
 */
import assert from "node:assert/strict";
import { routerArgs } from "./e2e.ts";
import { runRouter, simEnv } from "./router_process.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";

function env(vpc: SimVpc, extra: Record<string, string> = {}) {
  return simEnv({ ec2: vpc.ec2Endpoint }, { ...vpc.routerEnv(), ...extra });
}

async function status(vpc: SimVpc, extra: readonly string[] = []) {
  return await runRouter({ args: ["status", ...routerArgs(vpc, extra)], env: env(vpc) });
}

/** The rows of the table section whose header starts with `header`. */
function section(stdout: readonly string[], header: RegExp): string[] {
  const start = stdout.findIndex((line) => header.test(line));
  if (start < 0) return [];
  const end = stdout.findIndex((line, i) => i > start && line === "");
  return stdout.slice(start + 1, end < 0 ? undefined : end);
}

function assertOnlyDescribes(vpc: StandardVpc): void {
  const actions = [...new Set(vpc.ec2Server.calls.map((c) => c.action))].sort();
  assert.deepEqual(actions, ["DescribeInstances", "DescribeRouteTables"], "only Describe calls");
}

Deno.test("status on a fresh VPC prints what the first cycle would do, and changes nothing", async (t) => {
  const vpc = await SimVpc.standard();
  try {
    const before = vpc.ec2.snapshot();
    const { natIds, routeTableIds, natsByZone, zones } = vpc.fleet;

    await t.step(
      "the table lists 3 NATs, 6 route tables with desired targets, 6 creates",
      async () => {
        const { code, stdout, stderr } = await status(vpc);
        assert.equal(code, 0, stderr.join("\n"));
        assert.deepEqual(stderr, [], "status logs only problems (warn) by default");
        const nats = section(stdout, /^ +NAT INSTANCE +ZONE +LAUNCHED +HEALTH$/);
        assert.equal(nats.length, 3, stdout.join("\n"));
        for (const id of natIds) {
          const row = nats.find((line) => line.includes(id));
          assert.match(row ?? "", / healthy$/, `${id} is healthy in:\n${stdout.join("\n")}`);
        }
        const leader = nats.filter((line) => line.startsWith("*"));
        assert.deepEqual(leader.map((l) => l.split(/ +/)[1]), [natIds[0]], "oldest NAT leads");
        const tables = section(stdout, /^ROUTE TABLE +ZONE +CURRENT +DESIRED +REASON$/);
        assert.equal(tables.length, 6, stdout.join("\n"));
        for (const id of routeTableIds) {
          const cells = tables.find((line) => line.startsWith(id))?.split(/ +/) ?? [];
          assert.equal(cells[2], "-", `${id} has no route yet`);
          assert.ok(natIds.includes(cells[3] ?? ""), `${id} gets a NAT: ${cells.join(" ")}`);
          assert.equal(cells[4], "no_route");
          const zone = cells[1] ?? "";
          if ((natsByZone[zone] ?? []).length > 0) {
            assert.ok(natsByZone[zone]!.includes(cells[3]!), `${id} stays in ${zone}`);
          }
        }
        assert.equal(zones.length, 3);
        const changes = section(stdout, /^ACTION +RESOURCE +FROM +TO +REASON$/);
        const creates = changes.filter((line) =>
          /^create +rtb-\S+ +- +i-\S+ +no_route$/.test(line)
        );
        assert.equal(creates.length, 6, stdout.join("\n"));
        assert.ok(stdout.every((line) => !line.includes("\u001b")), "plain text, no colours");
      },
    );

    await t.step("--output json parses, with the documented shape", async () => {
      const { code, stdout, stderr } = await status(vpc, ["--output", "json", "--ec2-election"]);
      assert.equal(code, 0, stderr.join("\n"));
      const report = JSON.parse(stdout.join("\n"));
      assert.deepEqual(Object.keys(report), [
        "vpcId",
        "clusterId",
        "time",
        "leader",
        "nats",
        "routeTables",
        "fallbackGateways",
        "changes",
      ]);
      assert.equal(report.vpcId, vpc.vpcId);
      assert.equal(report.clusterId, "squid");
      assert.equal(report.leader, natIds[0], "the leader is shown with --ec2-election too");
      assert.deepEqual(
        report.nats.map((n: { instanceId: string }) => n.instanceId),
        [...natIds].sort(),
      );
      for (const n of report.nats) {
        assert.deepEqual(Object.keys(n), [
          "instanceId",
          "zone",
          "launchTime",
          "leader",
          "health",
          "error",
        ]);
        assert.match(n.launchTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.equal(n.health, "healthy");
      }
      assert.equal(report.routeTables.length, 6);
      for (const row of report.routeTables) {
        assert.equal(row.current, null);
        assert.ok(natIds.includes(row.desired));
        assert.equal(row.reason, "no_route");
      }
      assert.deepEqual(Object.keys(report.changes), ["routes", "sourceDestChecks", "recoveries"]);
      assert.equal(report.changes.routes.length, 6);
      assert.ok(report.changes.routes.every((c: { action: string }) => c.action === "create"));
      assert.equal(report.changes.sourceDestChecks.length, 3);
    });

    await t.step("the simulator saw only Describe calls, and its state is unchanged", () => {
      assertOnlyDescribes(vpc);
      assert.deepEqual(vpc.ec2.snapshot(), before);
    });

    await t.step("after a --once run, status plans no change", async () => {
      const once = await runRouter({ args: routerArgs(vpc, ["--once"]), env: env(vpc) });
      assert.equal(once.code, 0, once.stderr.join("\n"));
      const { code, stdout, stderr } = await status(vpc);
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(
        stdout.includes("No changes planned: a cycle would change nothing."),
        stdout.join("\n"),
      );
      const tables = section(stdout, /^ROUTE TABLE /);
      assert.ok(
        tables.every((line) => / -$/.test(line)),
        `every table stays:\n${tables.join("\n")}`,
      );
      const json = JSON.parse((await status(vpc, ["--output", "json"])).stdout.join("\n"));
      assert.deepEqual(json.changes, { routes: [], sourceDestChecks: [], recoveries: [] });
    });
  } finally {
    await vpc.close();
  }
});

Deno.test("status shows a failed NAT and the replacements a cycle would make", async () => {
  const vpc = await SimVpc.standard();
  try {
    const once = await runRouter({ args: routerArgs(vpc, ["--once"]), env: env(vpc) });
    assert.equal(once.code, 0, once.stderr.join("\n"));
    const b1 = vpc.fleet.natIds[2]!;
    const its = vpc.fleet.routeTableIds.filter((id) => vpc.ec2.defaultRouteTarget(id) === b1);
    await vpc.nat(b1).setMode("refusing");
    vpc.ec2Server.clearCalls();
    const before = vpc.ec2.snapshot();
    const { code, stdout, stderr } = await status(vpc, ["--output", "json"]);
    assert.equal(code, 0, stderr.join("\n"));
    const report = JSON.parse(stdout.join("\n"));
    const nat = report.nats.find((n: { instanceId: string }) => n.instanceId === b1);
    assert.deepEqual([nat.health, nat.error], ["unhealthy", "refused"]);
    assert.deepEqual(
      report.changes.routes.map((c: { routeTableId: string }) => c.routeTableId).sort(),
      [...its].sort(),
    );
    for (const change of report.changes.routes) {
      assert.deepEqual([change.action, change.from, change.reason], [
        "replace",
        b1,
        "nat_unhealthy",
      ]);
    }
    assertOnlyDescribes(vpc);
    assert.deepEqual(vpc.ec2.snapshot(), before);
  } finally {
    await vpc.close();
  }
});

Deno.test("status exits 1 with a log line on stderr when EC2 cannot be read", async () => {
  const vpc = await SimVpc.standard();
  try {
    vpc.ec2Server.revokedAccessKeys.add(vpc.routerEnv().AWS_ACCESS_KEY_ID!);
    const { code, stdout, stderr } = await status(vpc);
    assert.equal(code, 1);
    assert.deepEqual(stdout, [], "no report");
    assert.equal(stderr.length, 1, stderr.join("\n"));
    assert.match(stderr[0]!, /^\S+ ERROR discovery\.failed .*code=AuthFailure/);
  } finally {
    await vpc.close();
  }
});
