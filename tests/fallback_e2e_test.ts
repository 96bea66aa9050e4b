/**
 * End-to-end: `--fallback-nat-gateway` sends route tables to a managed NAT gateway when no
 * NAT instance is healthy, and brings them back after `--rise` and `--failback-delay`.
 */
import assert from "node:assert/strict";
import { FAST, startFleet, stopAll, waitUntil, waitUntilRouted } from "./e2e.ts";
import { SimVpc } from "./sim/vpc.ts";

Deno.test("router --fallback-nat-gateway: to the gateway when no NAT is healthy, and back", async (t) => {
  const vpc = await SimVpc.standard();
  const [zoneA] = vpc.fleet.zones as [string];
  const gateway = "nat-0a1b2c3d4e5f60718";
  const zoneGateway = "nat-0fedcba9876543210";
  // The router confirms both exist, available, public, in the VPC, before it starts.
  vpc.ec2.addNatGateway({ natGatewayId: gateway, vpcId: vpc.vpcId });
  vpc.ec2.addNatGateway({ natGatewayId: zoneGateway, vpcId: vpc.vpcId, zone: zoneA });
  const routers = startFleet(vpc, [
    ...FAST,
    "--fallback-nat-gateway",
    `${gateway},${zoneA}=${zoneGateway}`,
  ]);
  const onGateway = () =>
    vpc.fleet.routeTableIds.every((id) => {
      const target = vpc.ec2.defaultRouteTarget(id);
      return target === (vpc.fleet.tablesByZone[zoneA]!.includes(id) ? zoneGateway : gateway);
    });
  try {
    await waitUntilRouted("the initial allocation", vpc, vpc.fleet.natIds);

    await t.step(
      "every table goes to its zone's gateway (or the default) when all NATs fail",
      async () => {
        await Promise.all(vpc.fleet.natIds.map((id) => vpc.nat(id).setMode("refusing")));
        await waitUntil("all tables on the fallback gateways", onGateway);
        await routers[0]!.waitFor(/ERROR allocation\.no_healthy_nat .*fallback NAT gateway/);
      },
    );

    await t.step("they stay there during the failback delay, then return to the NATs", async () => {
      await Promise.all(vpc.fleet.natIds.map((id) => vpc.nat(id).setMode("up")));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(onGateway(), "still on the gateway inside rise + failback delay");
      await waitUntilRouted("tables back on the NATs", vpc, vpc.fleet.natIds);
    });
  } finally {
    await stopAll(routers);
    await vpc.close();
  }
});
