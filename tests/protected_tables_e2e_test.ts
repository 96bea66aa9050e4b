/**
 * @module The router never points a NAT at itself and never takes a public route: a tagged
 * table that serves a NAT instance's subnet (explicitly, or as the VPC's main table while that
 * subnet has no table of its own) and a tagged table whose default route goes to an internet
 * gateway are never written, whatever their tags say; each is warned about once and `status`
 * says why.
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { FAST, routerArgs, waitUntil } from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

Deno.test("router leaves alone the tables that serve a NAT's subnet or an internet gateway", async (t) => {
  const vpc = await SimVpc.standard();
  const env = simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv());
  const [a1] = vpc.fleet.natIds as [string];
  const tags = { [TAG_CLUSTER_ID]: "squid", [TAG_ZONE]: vpc.fleet.zones[0]! };
  const igw = vpc.fleet.internetGatewayId;
  // The main table (NAT subnets without a table of their own follow it), tagged by mistake.
  const main = vpc.fleet.untaggedRouteTableId;
  vpc.ec2.setTags(main, tags);
  // A tagged table explicitly associated with a1's own subnet.
  const natSubnet = vpc.ec2.instance(a1)!.subnetId;
  const ownSubnet = vpc.addRouteTable({ tags, subnetIds: [natSubnet] });
  // A public subnet's table tagged by mistake: its default route goes to the internet gateway.
  const publicTable = vpc.addRouteTable({
    tags,
    subnetIds: [vpc.ec2.addSubnet(vpc.vpcId, vpc.fleet.zones[0]!)],
    routes: [{ destinationCidrBlock: "0.0.0.0/0", gatewayId: igw }],
  });
  const guarded = { [main]: "serves_nat_subnet", [ownSubnet]: "serves_nat_subnet" };
  const router = startRouter({ args: routerArgs(vpc, FAST), env });
  try {
    await t.step("the cluster's own tables are allocated as usual", async () => {
      await waitUntil(
        "every fleet table on a NAT",
        () =>
          vpc.fleet.routeTableIds.every((id) =>
            vpc.fleet.natIds.includes(vpc.ec2.defaultRouteTarget(id) ?? "")
          ),
      );
    });

    await t.step("the guarded tables keep their routes through several cycles", async () => {
      await router.waitFor(/router\.ready/);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(vpc.ec2.defaultRouteTarget(main), igw, "the main table still goes out");
      assert.equal(vpc.ec2.defaultRouteTarget(ownSubnet), undefined, "no route created");
      assert.equal(vpc.ec2.defaultRouteTarget(publicTable), igw, "the public route stands");
      for (const action of ["CreateRoute", "ReplaceRoute"]) {
        const touched = vpc.ec2Server.calls.filter((c) =>
          c.action === action &&
          [main, ownSubnet, publicTable].includes(c.params.RouteTableId ?? "")
        );
        assert.deepEqual(touched, [], `no ${action} on a guarded table`);
      }
    });

    await t.step("each is warned about once, with why", () => {
      const expected: [string, string][] = [
        ...Object.entries(guarded),
        [publicTable, "internet_gateway_route"],
      ];
      for (const [id, reason] of expected) {
        const lines = router.grep(
          new RegExp(`resource\\.skipped resource_id=${id} reason=${reason}`),
        );
        assert.equal(lines.length, 1, `${id}: ${router.grep(new RegExp(id)).join("\n")}`);
      }
    });

    await t.step("status says why each is left alone", async () => {
      const { code, stdout, stderr } = await runRouter({
        args: ["status", ...routerArgs(vpc, ["--output", "json"])],
        env,
      });
      assert.equal(code, 0, stderr.join("\n"));
      const report = JSON.parse(stdout.join("\n")) as {
        routeTables: { routeTableId: string; note: string | null }[];
      };
      const note = (id: string) => report.routeTables.find((r) => r.routeTableId === id)?.note;
      assert.equal(note(main), "serves_nat_subnet");
      assert.equal(note(ownSubnet), "serves_nat_subnet");
      assert.equal(note(publicTable), "internet_gateway_route");
    });
  } finally {
    assert.equal(await router.stop(), 0);
    await vpc.close();
  }
});
