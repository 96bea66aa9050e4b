/**
 * @module Unit tests of the EC2 adapter's conversions: which of a route table's routes the
 * router reads as its own default route.
 */
import assert from "node:assert/strict";
import type { Route } from "@aws-sdk/client-ec2";
import type { Skipped } from "../model.ts";
import { toRouteTable } from "./ec2.ts";

const TABLE = "rtb-0123456789abcdef0";
const ENI = "eni-0123456789abcdef0";
const NAT = "i-0123456789abcdef0";
const VGW = "vgw-0123456789abcdef0";
const local: Route = {
  DestinationCidrBlock: "10.0.0.0/16",
  GatewayId: "local",
  Origin: "CreateRouteTable",
  State: "active",
};
const propagated: Route = {
  DestinationCidrBlock: "0.0.0.0/0",
  GatewayId: VGW,
  Origin: "EnableVgwRoutePropagation",
  State: "active",
};
const toNat: Route = {
  DestinationCidrBlock: "0.0.0.0/0",
  InstanceId: NAT,
  NetworkInterfaceId: ENI,
  Origin: "CreateRoute",
  State: "active",
};

Deno.test("toRouteTable() reads only the static default route as the router's", async (t) => {
  const cases: readonly {
    readonly name: string;
    readonly routes: readonly Route[];
    readonly target: string | undefined;
  }[] = [
    { name: "a static default route alone is the router's", routes: [local, toNat], target: NAT },
    {
      name: "a propagated default route alone is not: the table has no default of ours",
      routes: [local, propagated],
      target: undefined,
    },
    {
      name: "beside a propagated one (either order), the static one is the router's",
      routes: [local, propagated, toNat],
      target: NAT,
    },
    { name: "...in the other order too", routes: [toNat, propagated, local], target: NAT },
    {
      name: "a default route without an origin (an emulator) counts as static",
      routes: [{ DestinationCidrBlock: "0.0.0.0/0", GatewayId: "igw-01234567" }],
      target: "igw-01234567",
    },
  ];
  for (const { name, routes, target } of cases) {
    await t.step(name, () => {
      const notes: Skipped[] = [];
      const table = toRouteTable({ RouteTableId: TABLE, Routes: [...routes] }, notes);
      assert.ok("routeTableId" in table, `skipped: ${JSON.stringify(table)}`);
      const route = table.defaultRoute;
      assert.equal(route?.instanceId ?? route?.gatewayId, target);
      assert.deepEqual(notes, []);
    });
  }
});
