/**
 * @module Acceptance tests of the simulated EC2 endpoint, driven by the real
 * `@aws-sdk/client-ec2`: every field the router reads comes back parsed, every error surfaces
 * under EC2's code, pagination and retries work as with EC2, and route states follow the
 * target instances.
 */

import assert from "node:assert/strict";
import {
  CreateRouteCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  type EC2Client,
  type Instance,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  paginateDescribeInstances,
  paginateDescribeRouteTables,
  RebootInstancesCommand,
  ReplaceRouteCommand,
  type Route,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { simEc2Client } from "./sim/sdk_client.ts";
import { SimVpc, type StandardVpc, TEST_CREDENTIALS } from "./sim/vpc.ts";

async function withFleet(
  fn: (vpc: StandardVpc, ec2: EC2Client) => Promise<void>,
  options: { readonly maxAttempts?: number } = {},
): Promise<void> {
  await using vpc = await SimVpc.standard({ rebootMs: 100 });
  const ec2 = simEc2Client(vpc.ec2Endpoint, options);
  try {
    await fn(vpc, ec2);
  } finally {
    ec2.destroy();
  }
}

const primaryEni = (vpc: SimVpc, instanceId: string) =>
  vpc.ec2.instance(instanceId)!.networkInterfaces[0]!.networkInterfaceId;

async function describeOne(ec2: EC2Client, instanceId: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.[0]?.Instances?.[0];
  assert.ok(instance, `DescribeInstances did not return ${instanceId}`);
  return instance;
}

async function defaultRoute(ec2: EC2Client, routeTableId: string): Promise<Route | undefined> {
  const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [routeTableId] }));
  return out.RouteTables?.[0]?.Routes?.find((r) => r.DestinationCidrBlock === "0.0.0.0/0");
}

/** Asserts the promise fails with this EC2 error code (and message, and HTTP status). */
async function assertEc2Error(
  promise: Promise<unknown>,
  code: string,
  expected: { readonly message?: string | RegExp; readonly status?: number } = {},
): Promise<void> {
  await assert.rejects(promise, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, code, `expected ${code}, got ${error.name}: ${error.message}`);
    if (typeof expected.message === "string") assert.equal(error.message, expected.message);
    if (expected.message instanceof RegExp) assert.match(error.message, expected.message);
    assert.equal(error.$metadata?.httpStatusCode, expected.status ?? 400);
    return true;
  });
}

Deno.test("SimVpc.standard() builds the canonical fleet", async (t) => {
  await using vpc = await SimVpc.standard();
  const { fleet } = vpc;

  await t.step("three zones with 2, 1 and 0 NAT instances tagged with cluster and zone", () => {
    assert.deepEqual(fleet.zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert.deepEqual(Object.values(fleet.natsByZone).map((ids) => ids.length), [2, 1, 0]);
    for (const [zone, ids] of Object.entries(fleet.natsByZone)) {
      for (const id of ids) {
        const instance = vpc.ec2.instance(id)!;
        assert.equal(instance.zone, zone);
        assert.deepEqual(instance.tags, { [TAG_CLUSTER_ID]: "squid", [TAG_ZONE]: zone });
      }
    }
  });

  await t.step("launch times are staggered, the first NAT added is the oldest", () => {
    const times = fleet.natIds.map((id) => vpc.ec2.instance(id)!.launchTime);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.equal(new Set(times).size, times.length);
    assert.ok(times.every((time) => time % 1000 === 0), "launch times have whole seconds");
  });

  await t.step("two tagged route tables per zone, without a default route", () => {
    assert.deepEqual(Object.values(fleet.tablesByZone).map((ids) => ids.length), [2, 2, 2]);
    for (const id of fleet.routeTableIds) assert.equal(vpc.ec2.defaultRouteTarget(id), undefined);
  });

  await t.step("the untagged main table and the other VPC's table route to a gateway", () => {
    assert.equal(vpc.ec2.defaultRouteTarget(fleet.untaggedRouteTableId), fleet.internetGatewayId);
    assert.deepEqual(vpc.ec2.routeTable(fleet.untaggedRouteTableId)!.tags, {});
    const foreign = vpc.ec2.routeTable(fleet.foreignRouteTableId)!;
    assert.equal(foreign.vpcId, fleet.foreignVpcId);
    assert.match(vpc.ec2.defaultRouteTarget(foreign.routeTableId)!, /^igw-/);
  });

  await t.step("every NAT has a distinct 127.x private and public address", () => {
    const addresses = fleet.natIds.flatMap((id) => {
      const { privateIp, publicIp } = vpc.ec2.instance(id)!;
      return [privateIp, publicIp];
    });
    assert.ok(addresses.every((a) => a?.startsWith("127.") && a !== "127.0.0.1"));
    assert.equal(new Set(addresses).size, addresses.length);
  });
});

Deno.test("DescribeInstances gives the SDK every field the router reads", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [natId] = vpc.fleet.natIds as [string];
    const multiId = vpc.addInstance({ zone: "us-east-1b", clusterId: "squid", interfaces: 3 });

    await t.step("ids, state, launch time, zone, addresses, tags", async () => {
      const sim = vpc.ec2.instance(natId)!;
      const instance = await describeOne(ec2, natId);
      assert.equal(instance.InstanceId, natId);
      assert.deepEqual(instance.State, { Code: 16, Name: "running" });
      assert.ok(instance.LaunchTime instanceof Date);
      assert.equal(instance.LaunchTime.getTime(), sim.launchTime);
      assert.equal(instance.Placement?.AvailabilityZone, "us-east-1a");
      assert.equal(instance.PrivateIpAddress, sim.privateIp);
      assert.equal(instance.PublicIpAddress, sim.publicIp);
      assert.equal(instance.VpcId, vpc.vpcId);
      assert.equal(instance.SourceDestCheck, true);
      assert.deepEqual(instance.Tags, [
        { Key: TAG_CLUSTER_ID, Value: "squid" },
        { Key: TAG_ZONE, Value: "us-east-1a" },
      ]);
    });

    await t.step(
      "network interfaces with id, device index and their own sourceDestCheck",
      async () => {
        const secondary = vpc.ec2.instance(multiId)!.networkInterfaces[1]!.networkInterfaceId;
        vpc.ec2.setSourceDestCheck(secondary, false);
        const instance = await describeOne(ec2, multiId);
        const interfaces = (instance.NetworkInterfaces ?? [])
          .map((n) => [n.Attachment?.DeviceIndex, n.NetworkInterfaceId, n.SourceDestCheck])
          .sort(([a], [b]) => Number(a) - Number(b));
        const sim = vpc.ec2.instance(multiId)!.networkInterfaces;
        assert.deepEqual(interfaces, [
          [0, sim[0]!.networkInterfaceId, true],
          [1, secondary, false],
          [2, sim[2]!.networkInterfaceId, true],
        ]);
      },
    );

    const filterCases: readonly {
      readonly name: string;
      readonly input: DescribeInstancesCommandInput;
      readonly expected: () => readonly string[];
    }[] = [
      {
        name: "vpc-id, tag and state filters are ANDed",
        input: {
          Filters: [
            { Name: "vpc-id", Values: [vpc.vpcId] },
            { Name: `tag:${TAG_CLUSTER_ID}`, Values: ["squid"] },
            { Name: "instance-state-name", Values: ["running"] },
          ],
        },
        expected: () => [...vpc.fleet.natIds, multiId],
      },
      {
        name: "values of one filter are ORed",
        input: { Filters: [{ Name: "availability-zone", Values: ["us-east-1b", "us-east-1c"] }] },
        expected: () => [...vpc.fleet.natsByZone["us-east-1b"]!, multiId],
      },
      {
        name: "tag values are case-sensitive",
        input: { Filters: [{ Name: `tag:${TAG_CLUSTER_ID}`, Values: ["Squid"] }] },
        expected: () => [],
      },
      {
        name: "tag-key matches the key whatever the value",
        input: { Filters: [{ Name: "tag-key", Values: [TAG_ZONE] }] },
        expected: () => vpc.fleet.natIds,
      },
      {
        name: "instance-id filter and wildcards",
        input: { Filters: [{ Name: "instance-id", Values: [`${natId.slice(0, 6)}*`] }] },
        expected: () => [natId],
      },
      {
        name: "InstanceIds select instances",
        input: { InstanceIds: [multiId, natId] },
        expected: () => [natId, multiId],
      },
    ];
    for (const { name, input, expected } of filterCases) {
      await t.step(name, async () => {
        const out = await ec2.send(new DescribeInstancesCommand(input));
        const ids = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) =>
          i.InstanceId
        );
        assert.deepEqual(ids.sort(), [...expected()].sort());
      });
    }
  });
});

Deno.test("DescribeRouteTables gives the SDK routes, targets, associations and tags", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [tableId] = vpc.fleet.routeTableIds as [string];
    const [natId] = vpc.fleet.natIds as [string];

    await t.step("the local route has origin CreateRouteTable and gateway local", async () => {
      const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [tableId] }));
      const table = out.RouteTables?.[0];
      assert.equal(table?.VpcId, vpc.vpcId);
      assert.deepEqual(table?.Routes, [{
        DestinationCidrBlock: "10.0.0.0/16",
        GatewayId: "local",
        Origin: "CreateRouteTable",
        State: "active",
      }]);
      assert.deepEqual(table?.Tags, [
        { Key: TAG_CLUSTER_ID, Value: "squid" },
        { Key: TAG_ZONE, Value: "us-east-1a" },
      ]);
      assert.equal(table?.Associations?.[0]?.Main, false);
      assert.match(table?.Associations?.[0]?.SubnetId ?? "", /^subnet-/);
    });

    await t.step(
      "a route created by interface reads back with instance and interface",
      async () => {
        const eni = primaryEni(vpc, natId);
        const out = await ec2.send(
          new CreateRouteCommand({
            RouteTableId: tableId,
            DestinationCidrBlock: "0.0.0.0/0",
            NetworkInterfaceId: eni,
          }),
        );
        assert.equal(out.Return, true);
        assert.deepEqual(await defaultRoute(ec2, tableId), {
          DestinationCidrBlock: "0.0.0.0/0",
          InstanceId: natId,
          InstanceOwnerId: "123456789012",
          NetworkInterfaceId: eni,
          Origin: "CreateRoute",
          State: "active",
        });
        assert.equal(vpc.ec2.defaultRouteTarget(tableId), natId);
        assert.deepEqual(
          vpc.ec2.routeWrites.map(({ action, routeTableId, instanceId, networkInterfaceId }) => ({
            action,
            routeTableId,
            instanceId,
            networkInterfaceId,
          })),
          [{
            action: "CreateRoute",
            routeTableId: tableId,
            instanceId: natId,
            networkInterfaceId: eni,
          }],
        );
      },
    );

    await t.step(
      "a route replaced by instance reads back with instance and interface",
      async () => {
        const otherId = vpc.fleet.natIds[1]!;
        await ec2.send(
          new ReplaceRouteCommand({
            RouteTableId: tableId,
            DestinationCidrBlock: "0.0.0.0/0",
            InstanceId: otherId,
          }),
        );
        const route = await defaultRoute(ec2, tableId);
        assert.equal(route?.InstanceId, otherId);
        assert.equal(route?.NetworkInterfaceId, primaryEni(vpc, otherId));
        assert.equal(vpc.ec2.routeWrites.at(-1)?.action, "ReplaceRoute");
      },
    );

    await t.step("IPv6 and prefix-list routes have no DestinationCidrBlock", async () => {
      vpc.ec2.setRoute(tableId, { destinationIpv6CidrBlock: "::/0", gatewayId: "igw-0123abcd" });
      vpc.ec2.setRoute(tableId, {
        destinationPrefixListId: "pl-0123abcd",
        gatewayId: "vgw-0123abcd",
      });
      const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [tableId] }));
      const routes = out.RouteTables?.[0]?.Routes ?? [];
      assert.deepEqual(
        routes.slice(2).map((
          r,
        ) => [r.DestinationCidrBlock, r.DestinationIpv6CidrBlock, r.DestinationPrefixListId]),
        [[undefined, "::/0", undefined], [undefined, undefined, "pl-0123abcd"]],
      );
    });

    const filterCases = [
      {
        name: "tag and vpc-id filters find the cluster's tables only",
        filters: [
          { Name: "vpc-id", Values: [vpc.vpcId] },
          { Name: `tag:${TAG_CLUSTER_ID}`, Values: ["squid"] },
        ],
        expected: vpc.fleet.routeTableIds,
      },
      {
        name: "association.main finds the main tables of both VPCs",
        filters: [{ Name: "association.main", Values: ["true"] }],
        expected: [vpc.fleet.untaggedRouteTableId, vpc.fleet.foreignRouteTableId],
      },
      {
        name: "route-table-id and tag-key filters",
        filters: [
          { Name: "route-table-id", Values: [tableId, vpc.fleet.untaggedRouteTableId] },
          { Name: "tag-key", Values: [TAG_ZONE] },
        ],
        expected: [tableId],
      },
    ];
    for (const { name, filters, expected } of filterCases) {
      await t.step(name, async () => {
        const out = await ec2.send(new DescribeRouteTablesCommand({ Filters: filters }));
        assert.deepEqual(out.RouteTables?.map((r) => r.RouteTableId).sort(), [...expected].sort());
      });
    }
  });
});

Deno.test("a propagated default route sits beside the static one, which wins", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [alone, both] = vpc.fleet.routeTableIds as [string, string];
    const [natId, otherId] = vpc.fleet.natIds as [string, string];
    const vgw = "vgw-0123456789abcdef0";
    const routes = async (tableId: string) => {
      const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [tableId] }));
      const table = out.RouteTables?.[0];
      return {
        defaults: (table?.Routes ?? []).filter((r) => r.DestinationCidrBlock === "0.0.0.0/0")
          .map((r) => [r.Origin, r.GatewayId ?? r.InstanceId, r.State]),
        vgws: table?.PropagatingVgws?.map((v) => v.GatewayId),
      };
    };
    vpc.ec2.propagateRoute(alone, "0.0.0.0/0", vgw);
    vpc.ec2.propagateRoute(both, "0.0.0.0/0", vgw);
    vpc.ec2.setRoute(both, { destinationCidrBlock: "0.0.0.0/0", instanceId: natId });

    await t.step("DescribeRouteTables returns both entries, each with its origin", async () => {
      assert.deepEqual(await routes(alone), {
        defaults: [["EnableVgwRoutePropagation", vgw, "active"]],
        vgws: [vgw],
      });
      assert.deepEqual((await routes(both)).defaults, [
        ["EnableVgwRoutePropagation", vgw, "active"],
        ["CreateRoute", natId, "active"],
      ]);
      assert.equal(vpc.ec2.defaultRouteTarget(alone), vgw, "the propagated route carries traffic");
      assert.equal(vpc.ec2.defaultRouteTarget(both), natId, "the static route wins");
    });

    await t.step("ReplaceRoute cannot replace a propagated route", async () => {
      await assertEc2Error(
        ec2.send(
          new ReplaceRouteCommand({
            RouteTableId: alone,
            DestinationCidrBlock: "0.0.0.0/0",
            NetworkInterfaceId: primaryEni(vpc, natId),
          }),
        ),
        "InvalidParameterValue",
        {
          message:
            "There is no route defined for '0.0.0.0/0' in the route table. Use CreateRoute instead.",
        },
      );
      assert.equal(vpc.ec2.defaultRouteTarget(alone), vgw);
    });

    await t.step("CreateRoute beside a propagated route succeeds and takes over", async () => {
      const out = await ec2.send(
        new CreateRouteCommand({
          RouteTableId: alone,
          DestinationCidrBlock: "0.0.0.0/0",
          NetworkInterfaceId: primaryEni(vpc, natId),
        }),
      );
      assert.equal(out.Return, true);
      assert.deepEqual((await routes(alone)).defaults, [
        ["EnableVgwRoutePropagation", vgw, "active"],
        ["CreateRoute", natId, "active"],
      ]);
      assert.equal(vpc.ec2.defaultRouteTarget(alone), natId);
    });

    await t.step(
      "ReplaceRoute changes the static route and leaves the propagated one",
      async () => {
        await ec2.send(
          new ReplaceRouteCommand({
            RouteTableId: both,
            DestinationCidrBlock: "0.0.0.0/0",
            NetworkInterfaceId: primaryEni(vpc, otherId),
          }),
        );
        assert.deepEqual((await routes(both)).defaults, [
          ["EnableVgwRoutePropagation", vgw, "active"],
          ["CreateRoute", otherId, "active"],
        ]);
      },
    );

    await t.step("CreateRoute next to both fails RouteAlreadyExists (the static one)", async () => {
      await assertEc2Error(
        ec2.send(
          new CreateRouteCommand({
            RouteTableId: both,
            DestinationCidrBlock: "0.0.0.0/0",
            NetworkInterfaceId: primaryEni(vpc, natId),
          }),
        ),
        "RouteAlreadyExists",
      );
    });

    await t.step("deleting the static route leaves the propagated one carrying traffic", () => {
      assert.equal(vpc.ec2.deleteRoute(both, "0.0.0.0/0"), true);
      assert.equal(vpc.ec2.defaultRouteTarget(both), vgw);
      assert.equal(vpc.ec2.withdrawPropagatedRoute(both, "0.0.0.0/0"), true);
      assert.equal(vpc.ec2.defaultRouteTarget(both), undefined);
    });
  });
});

Deno.test("DescribeNatGateways gives the SDK each gateway's VPC, state and connectivity", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const ok = vpc.ec2.addNatGateway({ vpcId: vpc.vpcId, zone: "us-east-1b" });
    const pending = vpc.ec2.addNatGateway({ vpcId: vpc.vpcId, state: "pending" });
    const foreign = vpc.ec2.addNatGateway({
      vpcId: vpc.fleet.foreignVpcId,
      connectivityType: "private",
    });

    await t.step(
      "the nat-gateway-id filter returns the known ones, every field parsed",
      async () => {
        const out = await ec2.send(
          new DescribeNatGatewaysCommand({
            Filter: [{ Name: "nat-gateway-id", Values: [ok, foreign, "nat-0123456789abcdef0"] }],
          }),
        );
        assert.deepEqual(
          out.NatGateways?.map((g) => [g.NatGatewayId, g.VpcId, g.State, g.ConnectivityType]),
          [[ok, vpc.vpcId, "available", "public"], [
            foreign,
            vpc.fleet.foreignVpcId,
            "available",
            "private",
          ]],
        );
        assert.match(out.NatGateways?.[0]?.SubnetId ?? "", /^subnet-/);
        assert.ok(out.NatGateways?.[0]?.CreateTime instanceof Date);
      },
    );

    await t.step("state and vpc-id filters", async () => {
      const out = await ec2.send(
        new DescribeNatGatewaysCommand({
          Filter: [{ Name: "vpc-id", Values: [vpc.vpcId] }, { Name: "state", Values: ["pending"] }],
        }),
      );
      assert.deepEqual(out.NatGateways?.map((g) => g.NatGatewayId), [pending]);
    });

    await t.step("a deleted gateway stays visible as deleted", async () => {
      vpc.ec2.setNatGatewayState(ok, "deleted");
      const out = await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [ok] }));
      assert.equal(out.NatGateways?.[0]?.State, "deleted");
    });

    await t.step("an unknown NatGatewayId fails NatGatewayNotFound", async () => {
      await assertEc2Error(
        ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: ["nat-0123456789abcdef0"] })),
        "NatGatewayNotFound",
      );
    });
  });
});

Deno.test("EC2 errors reach the SDK under EC2's own code", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [tableId, otherTableId] = vpc.fleet.routeTableIds as [string, string];
    const [natId] = vpc.fleet.natIds as [string];
    const eni = primaryEni(vpc, natId);
    const multiId = vpc.addInstance({ interfaces: 2 });
    const stoppedId = vpc.addInstance({ state: "stopped" });
    const foreignId = vpc.addInstance({ vpcId: vpc.fleet.foreignVpcId });
    vpc.ec2.setRoute(tableId, { destinationCidrBlock: "0.0.0.0/0", networkInterfaceId: eni });
    const unknownInstance = "i-0123456789abcdef0";
    const route = (target: Record<string, string>, table = tableId) => ({
      RouteTableId: table,
      DestinationCidrBlock: "0.0.0.0/0",
      ...target,
    });
    const cases: readonly {
      readonly name: string;
      readonly send: () => Promise<unknown>;
      readonly code: string;
      readonly message?: string | RegExp;
      readonly status?: number;
    }[] = [
      {
        name: "CreateRoute onto an existing destination fails RouteAlreadyExists",
        send: () => ec2.send(new CreateRouteCommand(route({ NetworkInterfaceId: eni }))),
        code: "RouteAlreadyExists",
      },
      {
        name: "ReplaceRoute of a missing destination fails InvalidParameterValue",
        send: () =>
          ec2.send(new ReplaceRouteCommand(route({ NetworkInterfaceId: eni }, otherTableId))),
        code: "InvalidParameterValue",
        message:
          "There is no route defined for '0.0.0.0/0' in the route table. Use CreateRoute instead.",
      },
      {
        name: "an unknown route table fails InvalidRouteTableID.NotFound",
        send: () =>
          ec2.send(
            new CreateRouteCommand(route({ NetworkInterfaceId: eni }, "rtb-0123456789abcdef0")),
          ),
        code: "InvalidRouteTableID.NotFound",
        message: "The routeTable ID 'rtb-0123456789abcdef0' does not exist",
      },
      {
        name: "a malformed route table id fails InvalidRouteTableID.Malformed",
        send: () => ec2.send(new CreateRouteCommand(route({ NetworkInterfaceId: eni }, "rtb-xyz"))),
        code: "InvalidRouteTableID.Malformed",
      },
      {
        name: "an unknown instance fails InvalidInstanceID.NotFound",
        send: () => ec2.send(new ReplaceRouteCommand(route({ InstanceId: unknownInstance }))),
        code: "InvalidInstanceID.NotFound",
        message: `The instance ID '${unknownInstance}' does not exist`,
      },
      {
        name: "a malformed instance id fails InvalidInstanceID.Malformed",
        send: () => ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-nope"] })),
        code: "InvalidInstanceID.Malformed",
      },
      {
        name: "an unknown interface fails InvalidNetworkInterfaceID.NotFound",
        send: () =>
          ec2.send(
            new ReplaceRouteCommand(route({ NetworkInterfaceId: "eni-0123456789abcdef0" })),
          ),
        code: "InvalidNetworkInterfaceID.NotFound",
      },
      {
        name: "routing to an instance with several interfaces fails InvalidInstanceID",
        send: () => ec2.send(new ReplaceRouteCommand(route({ InstanceId: multiId }))),
        code: "InvalidInstanceID",
        message: `There are multiple interfaces attached to instance '${multiId}'. ` +
          "Please specify an interface ID for the operation instead.",
      },
      {
        name: "routing to a stopped instance fails IncorrectInstanceState",
        send: () => ec2.send(new ReplaceRouteCommand(route({ InstanceId: stoppedId }))),
        code: "IncorrectInstanceState",
      },
      {
        name: "routing to an instance of another VPC fails InvalidParameterValue",
        send: () =>
          ec2.send(
            new ReplaceRouteCommand(route({ NetworkInterfaceId: primaryEni(vpc, foreignId) })),
          ),
        code: "InvalidParameterValue",
        message: /belong to different networks/,
      },
      {
        name: "two targets fail InvalidParameterCombination",
        send: () =>
          ec2.send(
            new ReplaceRouteCommand(route({ InstanceId: natId, NetworkInterfaceId: eni })),
          ),
        code: "InvalidParameterCombination",
      },
      {
        name: "the local route cannot be replaced",
        send: () =>
          ec2.send(
            new ReplaceRouteCommand({
              RouteTableId: tableId,
              DestinationCidrBlock: "10.0.0.0/16",
              NetworkInterfaceId: eni,
            }),
          ),
        code: "InvalidParameterValue",
      },
      {
        name: "DryRun answers DryRunOperation with HTTP 412",
        send: () =>
          ec2.send(new ReplaceRouteCommand({ ...route({ InstanceId: natId }), DryRun: true })),
        code: "DryRunOperation",
        message: "Request would have succeeded, but DryRun flag is set.",
        status: 412,
      },
      {
        name: "MaxResults below 5 fails InvalidParameterValue",
        send: () => ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })),
        code: "InvalidParameterValue",
      },
      {
        name: "MaxResults above 100 for route tables fails InvalidParameterValue",
        send: () => ec2.send(new DescribeRouteTablesCommand({ MaxResults: 101 })),
        code: "InvalidParameterValue",
      },
      {
        name: "MaxResults with InstanceIds fails InvalidParameterCombination",
        send: () => ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [natId] })),
        code: "InvalidParameterCombination",
      },
      {
        name: "an unknown filter fails InvalidParameterValue",
        send: () =>
          ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "vpc", Values: ["x"] }] })),
        code: "InvalidParameterValue",
        message: "The filter 'vpc' is invalid",
      },
      {
        name: "an unknown InstanceId fails InvalidInstanceID.NotFound",
        send: () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [unknownInstance] })),
        code: "InvalidInstanceID.NotFound",
      },
      {
        name: "a forged NextToken fails InvalidParameterValue",
        send: () => ec2.send(new DescribeRouteTablesCommand({ NextToken: "forged" })),
        code: "InvalidParameterValue",
      },
      {
        name: "ModifyInstanceAttribute on a multi-interface instance fails InvalidInstanceID",
        send: () =>
          ec2.send(
            new ModifyInstanceAttributeCommand({
              InstanceId: multiId,
              SourceDestCheck: { Value: false },
            }),
          ),
        code: "InvalidInstanceID",
        message: /^There are multiple interfaces attached to instance/,
      },
      {
        name: "RebootInstances of a stopped instance fails IncorrectInstanceState",
        send: () => ec2.send(new RebootInstancesCommand({ InstanceIds: [stoppedId] })),
        code: "IncorrectInstanceState",
      },
    ];
    for (const { name, send, code, message, status } of cases) {
      await t.step(name, async () => {
        const before = vpc.ec2.snapshot();
        await assertEc2Error(send(), code, {
          ...(message !== undefined ? { message } : {}),
          ...(status !== undefined ? { status } : {}),
        });
        assert.deepEqual(vpc.ec2.snapshot(), before, "a failed call changed nothing");
      });
    }

    await t.step("an unknown action answers InvalidAction in EC2's error XML", async () => {
      const response = await fetch(vpc.ec2Endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization:
            `AWS4-HMAC-SHA256 Credential=${TEST_CREDENTIALS.accessKeyId}/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body: "Action=DescribeUnicorns&Version=2016-11-15",
      });
      assert.equal(response.status, 400);
      const body = await response.text();
      assert.match(
        body,
        /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<Response><Errors><Error><Code>InvalidAction<\/Code><Message>The action DescribeUnicorns is not valid for this web service\.<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
      );
    });

    await t.step("an unsigned request fails AuthFailure", async () => {
      const response = await fetch(vpc.ec2Endpoint, {
        method: "POST",
        body: new URLSearchParams({ Action: "DescribeInstances", Version: "2016-11-15" }),
      });
      assert.equal(response.status, 401);
      assert.match(await response.text(), /<Code>AuthFailure<\/Code>/);
    });
  });
});

Deno.test("SDK paginators get every item across pages", async (t) => {
  await using vpc = await SimVpc.start();
  const ec2 = simEc2Client(vpc.ec2Endpoint);
  try {
    const instanceIds = Array.from(
      { length: 23 },
      (_, i) => vpc.ec2.addInstance({ vpcId: vpc.vpcId, zone: vpc.zones[i % 3]! }),
    );
    const tableIds = Array.from({ length: 230 }, () => vpc.addRouteTable({ tags: { n: "x" } }));

    await t.step("23 instances in pages of 5", async () => {
      const pages: string[][] = [];
      for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
        pages.push(
          (page.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!),
        );
      }
      assert.deepEqual(pages.map((p) => p.length), [5, 5, 5, 5, 3]);
      assert.deepEqual(pages.flat().sort(), [...instanceIds].sort());
    });

    await t.step("230 route tables in pages of 100", async () => {
      const pages: string[][] = [];
      const input = { Filters: [{ Name: "tag:n", Values: ["x"] }] };
      for await (const page of paginateDescribeRouteTables({ client: ec2, pageSize: 100 }, input)) {
        pages.push((page.RouteTables ?? []).map((r) => r.RouteTableId!));
      }
      assert.deepEqual(pages.map((p) => p.length), [100, 100, 30]);
      assert.deepEqual(pages.flat().sort(), [...tableIds].sort());
    });

    await t.step("a full last page carries a token to an empty page, as EC2 does", async () => {
      vpc.ec2.addInstance({ vpcId: vpc.vpcId, zone: vpc.zones[0]! });
      vpc.ec2.addInstance({ vpcId: vpc.vpcId, zone: vpc.zones[0]! });
      const sizes: number[] = [];
      for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
        sizes.push(page.Reservations?.length ?? 0);
      }
      assert.deepEqual(sizes, [5, 5, 5, 5, 5, 0]);
    });

    await t.step("items added between pages are neither repeated nor skipped", async () => {
      const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }));
      const added = vpc.ec2.addInstance({ vpcId: vpc.vpcId, zone: vpc.zones[0]! });
      const seen = (first.Reservations ?? []).map((r) => r.Instances![0]!.InstanceId!);
      for (let token = first.NextToken; token;) {
        const next = await ec2.send(
          new DescribeInstancesCommand({ MaxResults: 1000, NextToken: token }),
        );
        seen.push(...(next.Reservations ?? []).map((r) => r.Instances![0]!.InstanceId!));
        token = next.NextToken;
      }
      assert.equal(new Set(seen).size, seen.length);
      assert.equal(seen.length, 26);
      assert.ok(seen.includes(added));
    });
  } finally {
    ec2.destroy();
  }
});

Deno.test("injected faults look like EC2 failures to the SDK", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const server = vpc.ec2Server;
    const describe = () => ec2.send(new DescribeRouteTablesCommand({}));

    await t.step("a call throttled twice is retried by the SDK and succeeds", async () => {
      server.clearCalls();
      server.inject("throttle", { action: "DescribeRouteTables", count: 2 });
      await describe();
      assert.deepEqual(
        server.calls.map((c) => [c.action, c.status, c.errorCode]),
        [
          ["DescribeRouteTables", 503, "RequestLimitExceeded"],
          ["DescribeRouteTables", 503, "RequestLimitExceeded"],
          ["DescribeRouteTables", 200, undefined],
        ],
      );
    });

    await t.step("a fault for one action leaves the others alone", async () => {
      server.clearCalls();
      server.inject("internalError", { action: "CreateRoute", count: 5 });
      await ec2.send(new DescribeInstancesCommand({}));
      assert.equal(server.callCount("DescribeInstances"), 1);
      server.clearFaults();
    });

    await t.step("an InternalError (500) is retried by the SDK", async () => {
      server.clearCalls();
      server.inject("internalError");
      await describe();
      assert.deepEqual(server.calls.map((c) => c.status), [500, 200]);
    });

    await t.step("a dropped connection fails the call with a network error", async () => {
      server.inject("drop", { count: 3 });
      await assert.rejects(describe(), (error: Error) => {
        assert.equal(error.name, "TypeError", `${error.name}: ${error.message}`);
        return true;
      });
      server.clearFaults();
      await describe();
    });

    await t.step("added latency delays the answer", async () => {
      server.delay(300, { count: 1 });
      const started = performance.now();
      await describe();
      assert.ok(performance.now() - started >= 250);
      const again = performance.now();
      await describe();
      assert.ok(performance.now() - again < 250, "the latency applied to one call only");
    });

    await t.step("a down endpoint refuses connections until it is up again", async () => {
      await server.down();
      await assert.rejects(describe(), /fetch failed|Connection refused|error sending/i);
      server.up();
      await describe();
    });

    await t.step("the call log records the access key of each call", () => {
      assert.ok(server.calls.length > 0);
      assert.ok(server.calls.every((c) => c.accessKeyId === TEST_CREDENTIALS.accessKeyId));
    });

    await t.step("a revoked access key fails AuthFailure", async () => {
      server.revokedAccessKeys.add(TEST_CREDENTIALS.accessKeyId);
      await assertEc2Error(describe(), "AuthFailure", { status: 401 });
      server.revokedAccessKeys.clear();
    });
  }, { maxAttempts: 3 });
});

Deno.test("routes and instances follow instance state changes", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [tableId] = vpc.fleet.routeTableIds as [string];
    const [natId] = vpc.fleet.natIds as [string];
    vpc.ec2.setRoute(tableId, { destinationCidrBlock: "0.0.0.0/0", instanceId: natId });
    const state = async () => (await defaultRoute(ec2, tableId))?.State;

    const cases: readonly [string, () => void, string][] = [
      [
        "a route to a stopping instance stays active",
        () => vpc.ec2.setInstanceState(natId, "stopping"),
        "active",
      ],
      [
        "a route to a stopped instance is a blackhole",
        () => vpc.ec2.stopInstance(natId),
        "blackhole",
      ],
      [
        "a route to a started instance is active again",
        () => vpc.ec2.startInstance(natId),
        "active",
      ],
      [
        "a route to a shutting-down instance stays active",
        () => vpc.ec2.setInstanceState(natId, "shutting-down"),
        "active",
      ],
      [
        "a route to a terminated instance is a blackhole",
        () => vpc.ec2.terminateInstance(natId),
        "blackhole",
      ],
    ];
    for (const [name, change, expected] of cases) {
      await t.step(name, async () => {
        change();
        assert.equal(await state(), expected);
      });
    }

    await t.step("a route to an interface that does not exist is a blackhole", async () => {
      vpc.ec2.setRoute(tableId, {
        destinationCidrBlock: "0.0.0.0/0",
        networkInterfaceId: "eni-0123456789abcdef0",
      });
      assert.equal(await state(), "blackhole");
    });

    await t.step("starting an instance gives it a new launch time", async () => {
      const [, otherId] = vpc.fleet.natIds as [string, string];
      const before = vpc.ec2.instance(otherId)!.launchTime;
      vpc.ec2.now = () => Date.UTC(2030, 0, 1, 12, 0, 0, 789);
      vpc.ec2.stopInstance(otherId);
      vpc.ec2.startInstance(otherId);
      const instance = await describeOne(ec2, otherId);
      assert.notEqual(instance.LaunchTime?.getTime(), before);
      assert.equal(instance.LaunchTime?.toISOString(), "2030-01-01T12:00:00.000Z");
    });

    await t.step("TerminateInstances reports states and is idempotent", async () => {
      const id = vpc.fleet.natIds[2]!;
      const first = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      assert.deepEqual(first.TerminatingInstances, [{
        InstanceId: id,
        CurrentState: { Code: 32, Name: "shutting-down" },
        PreviousState: { Code: 16, Name: "running" },
      }]);
      const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      assert.deepEqual(again.TerminatingInstances?.[0]?.CurrentState, {
        Code: 48,
        Name: "terminated",
      });
    });

    await t.step("a terminated instance stays visible, without addresses or VPC", async () => {
      const id = vpc.fleet.natIds[2]!;
      const instance = await describeOne(ec2, id);
      assert.equal(instance.State?.Name, "terminated");
      assert.equal(instance.PrivateIpAddress, undefined);
      assert.equal(instance.VpcId, undefined);
      assert.deepEqual(instance.NetworkInterfaces, []);
      const inVpc = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: "vpc-id", Values: [vpc.vpcId] }] }),
      );
      const ids = inVpc.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId);
      assert.ok(!ids?.includes(id), "a vpc-id filter no longer finds it");
    });

    await t.step("RebootInstances succeeds and ignores terminated instances", async () => {
      const [, otherId] = vpc.fleet.natIds as [string, string];
      const out = await ec2.send(
        new RebootInstancesCommand({ InstanceIds: [otherId, vpc.fleet.natIds[2]!] }),
      );
      assert.equal(out.$metadata.httpStatusCode, 200);
      assert.equal(vpc.ec2.instance(otherId)?.state, "running");
    });
  });
});

Deno.test("source/destination check can be turned off per instance or per interface", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [natId] = vpc.fleet.natIds as [string];
    const multiId = vpc.addInstance({ interfaces: 2 });

    await t.step(
      "ModifyInstanceAttribute sets the instance and its primary interface",
      async () => {
        await ec2.send(
          new ModifyInstanceAttributeCommand({
            InstanceId: natId,
            SourceDestCheck: { Value: false },
          }),
        );
        const instance = await describeOne(ec2, natId);
        assert.equal(instance.SourceDestCheck, false);
        assert.equal(instance.NetworkInterfaces?.[0]?.SourceDestCheck, false);
      },
    );

    await t.step("ModifyNetworkInterfaceAttribute sets one interface only", async () => {
      const secondary = vpc.ec2.instance(multiId)!.networkInterfaces[1]!.networkInterfaceId;
      await ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: secondary,
          SourceDestCheck: { Value: false },
        }),
      );
      const checks = vpc.ec2.instance(multiId)!.networkInterfaces.map((n) => n.sourceDestCheck);
      assert.deepEqual(checks, [true, false]);
      assert.equal((await describeOne(ec2, multiId)).SourceDestCheck, true);
    });

    await t.step("DryRun changes nothing", async () => {
      await assertEc2Error(
        ec2.send(
          new ModifyNetworkInterfaceAttributeCommand({
            NetworkInterfaceId: primaryEni(vpc, multiId),
            SourceDestCheck: { Value: false },
            DryRun: true,
          }),
        ),
        "DryRunOperation",
        { status: 412 },
      );
      assert.equal(vpc.ec2.instance(multiId)!.networkInterfaces[0]!.sourceDestCheck, true);
    });
  });
});

Deno.test("snapshot() is a deep copy for before/after comparisons", async () => {
  await using vpc = await SimVpc.start();
  const tableId = vpc.addRouteTable({ tags: { a: "1" } });
  const before = vpc.ec2.snapshot();
  vpc.ec2.setTags(tableId, { a: "2" });
  vpc.ec2.setRoute(tableId, { destinationCidrBlock: "0.0.0.0/0", gatewayId: "igw-01234567" });
  assert.equal(before.routeTables[0]?.tags.a, "1");
  assert.equal(before.routeTables[0]?.routes.length, 1);
  assert.notDeepEqual(vpc.ec2.snapshot(), before);
  vpc.ec2.deleteRoute(tableId, "0.0.0.0/0");
  vpc.ec2.setTags(tableId, { a: "1" });
  assert.deepEqual(vpc.ec2.snapshot(), before);
  assert.deepEqual(JSON.parse(JSON.stringify(before)), before);
});

Deno.test("the endpoint serves many concurrent calls, each write atomically", async (t) => {
  await withFleet(async (vpc, ec2) => {
    await t.step("200 concurrent DescribeInstances all succeed", async () => {
      const outs = await Promise.all(
        Array.from({ length: 200 }, () => ec2.send(new DescribeInstancesCommand({}))),
      );
      assert.ok(outs.every((out) => out.Reservations?.length === vpc.fleet.natIds.length));
    });

    await t.step("of 21 concurrent CreateRoute on one destination exactly one wins", async () => {
      const [tableId] = vpc.fleet.routeTableIds as [string];
      const results = await Promise.allSettled(
        vpc.fleet.natIds.flatMap((natId) =>
          Array.from({ length: 7 }, () =>
            ec2.send(
              new CreateRouteCommand({
                RouteTableId: tableId,
                DestinationCidrBlock: "0.0.0.0/0",
                NetworkInterfaceId: primaryEni(vpc, natId),
              }),
            ))
        ),
      );
      const failures = results.flatMap((r) => r.status === "rejected" ? [r.reason.name] : []);
      assert.equal(results.length - failures.length, 1);
      assert.ok(failures.every((name) => name === "RouteAlreadyExists"));
      assert.equal(vpc.ec2.routeWrites.length, 1);
    });
  });
});
