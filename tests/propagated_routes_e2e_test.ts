/**
 * End-to-end: route tables with a default route propagated by a virtual private gateway. The
 * router owns only the static default route: beside a propagated one alone it creates its
 * own (which wins), beside both it replaces its own as usual, never touches the propagated
 * one, and neither loops on `route.failed` nor churns once the tables are right.
 */
import assert from "node:assert/strict";
import { assertOnlyOwnRoutesChanged, FAST, misrouting, routerArgs, waitUntil } from "./e2e.ts";
import { simEnv, startRouter } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

Deno.test("router with propagated default routes: one write per table, no churn", async (t) => {
  const vpc = await SimVpc.standard();
  const [zoneA] = vpc.fleet.zones as [string];
  const [alone, both] = vpc.fleet.tablesByZone[zoneA] as [string, string];
  const vgw = "vgw-0123456789abcdef0";
  // A static default route to an instance that is then terminated: a blackhole to replace.
  const gone = vpc.addInstance({ zone: zoneA });
  vpc.ec2.propagateRoute(alone, "0.0.0.0/0", vgw);
  vpc.ec2.propagateRoute(both, "0.0.0.0/0", vgw);
  vpc.ec2.setRoute(both, { destinationCidrBlock: "0.0.0.0/0", instanceId: gone });
  vpc.ec2.terminateInstance(gone);
  await vpc.settled();
  const before = vpc.ec2.snapshot();
  const [leader] = vpc.fleet.natIds as [string];
  const router = startRouter({
    name: "router",
    args: routerArgs(vpc, ["--log-level", "info", ...FAST]),
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(leader) }),
  });
  const writes = (table: string) =>
    vpc.ec2.routeWrites.filter((w) => w.routeTableId === table).map((w) => w.action);
  const propagated = (table: string) =>
    vpc.ec2.routeTable(table)!.routes.filter((r) => r.origin === "EnableVgwRoutePropagation");
  try {
    await waitUntil("every table on a NAT", () => misrouting(vpc, vpc.fleet.natIds) === undefined);
    // Three more reconcile cycles (--interval 1s) to see any churn or failure loop.
    await new Promise((resolve) => setTimeout(resolve, 3_500));

    await t.step("a propagated default alone: one CreateRoute, and the static route wins", () => {
      assert.deepEqual(writes(alone), ["CreateRoute"]);
      assert.ok(vpc.fleet.natIds.includes(vpc.ec2.defaultRouteTarget(alone)!));
    });

    await t.step("beside a static one: the static one replaced once", () => {
      assert.deepEqual(writes(both), ["ReplaceRoute"]);
      assert.ok(vpc.fleet.natIds.includes(vpc.ec2.defaultRouteTarget(both)!));
    });

    await t.step("the propagated routes are untouched, nothing else changed", () => {
      for (const table of [alone, both]) {
        assert.deepEqual(propagated(table), [{
          destinationCidrBlock: "0.0.0.0/0",
          gatewayId: vgw,
          origin: "EnableVgwRoutePropagation",
        }]);
      }
      assertOnlyOwnRoutesChanged(before, vpc.ec2.snapshot(), vpc.vpcId);
    });

    await t.step("no route.failed line, and one write per table in all", () => {
      assert.deepEqual(router.grep(/route\.failed/), []);
      assert.equal(vpc.ec2.routeWrites.length, vpc.fleet.routeTableIds.length);
    });
  } finally {
    const code = await router.stop();
    await vpc.close();
    assert.equal(code, 0, router.lines.slice(-10).join("\n"));
  }
});
