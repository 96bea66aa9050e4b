/** @module Tests for `fakeEc2()`, the in-memory EC2 the unit tests drive the runtime with. */
import assert from "node:assert/strict";
import { fakeEc2, natInstance, routeTable } from "./fixtures.ts";

const write = (routeTableId: string, networkInterfaceId: string) => ({
  routeTableId,
  destinationCidrBlock: "0.0.0.0/0",
  networkInterfaceId,
});

Deno.test("fakeEc2()", async (t) => {
  await t.step("fakeEc2() answers Describe calls from the arrays it holds now", async () => {
    const tables = [routeTable("rtb-1", "az-a")];
    const ec2 = fakeEc2({ instances: [natInstance("i-1")], routeTables: tables });
    tables.push(routeTable("rtb-2", "az-a"));
    const query = { vpcId: "vpc-1", clusterId: "squid" };
    assert.deepEqual((await ec2.describeRouteTables(query)).items.map((rt) => rt.routeTableId), [
      "rtb-1",
      "rtb-2",
    ]);
    ec2.instances = [];
    assert.deepEqual(await ec2.describeInstances(query), { items: [], skipped: [], calls: 1 });
    assert.deepEqual(ec2.calls, ["DescribeRouteTables", "DescribeInstances"]);
    assert.deepEqual(ec2.writes, [], "a Describe is not a write");
  });

  await t.step("fakeEc2() records each write as one line", async () => {
    const ec2 = fakeEc2();
    await ec2.createRoute(write("rtb-1", "eni-1"));
    await ec2.replaceRoute({ ...write("rtb-2", "eni-1"), natGatewayId: "nat-1" });
    await ec2.disableSourceDestCheck({ instanceId: "i-1", networkInterfaceId: undefined });
    await ec2.disableSourceDestCheck({ instanceId: "i-2", networkInterfaceId: "eni-2" });
    await ec2.rebootInstance("i-3");
    await ec2.terminateInstance("i-4");
    assert.deepEqual(ec2.writes, [
      "CreateRoute rtb-1 -> eni-1",
      "ReplaceRoute rtb-2 -> nat-1",
      "DisableSourceDestCheck i-1",
      "DisableSourceDestCheck i-2 eni-2",
      "RebootInstances i-3",
      "TerminateInstances i-4",
    ]);
    assert.equal(ec2.count("DisableSourceDestCheck"), 2);
  });

  await t.step(
    "fakeEc2().failNext() fails the named call the given number of times, in order",
    async () => {
      const denied = new Error("UnauthorizedOperation");
      const throttled = new Error("RequestLimitExceeded");
      const ec2 = fakeEc2()
        .failNext("CreateRoute rtb-1", denied)
        .failNext("CreateRoute", throttled, 2);
      await assert.rejects(ec2.createRoute(write("rtb-1", "eni-1")), denied);
      await assert.rejects(ec2.createRoute(write("rtb-1", "eni-1")), throttled);
      await assert.rejects(ec2.createRoute(write("rtb-2", "eni-1")), throttled);
      await ec2.createRoute(write("rtb-2", "eni-1"));
      assert.deepEqual(ec2.writes, ["CreateRoute rtb-2 -> eni-1"], "failed calls change nothing");
      assert.equal(ec2.count("CreateRoute"), 4, "failed calls are still calls");
    },
  );

  await t.step("fakeEc2().failNext() with Infinity fails every call from then on", async () => {
    const down = new Error("NetworkError");
    const ec2 = fakeEc2().failNext("DescribeInstances", down, Infinity);
    for (let n = 0; n < 3; n++) {
      await assert.rejects(ec2.describeInstances({ vpcId: "vpc-1", clusterId: "squid" }), down);
    }
  });
});
