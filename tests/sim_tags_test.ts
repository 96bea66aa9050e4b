/**
 * @module Acceptance tests of the simulator's CreateTags and DeleteTags, driven by the real
 * `@aws-sdk/client-ec2`: tags land on instances and show in DescribeInstances, DeleteTags
 * follows EC2's key/value rules, and errors carry EC2's codes (`InvalidID`,
 * `InvalidInstanceID.NotFound`, `InvalidParameterValue` for `aws:` keys, `MissingParameter`).
 */
import assert from "node:assert/strict";
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { TAG_DRAINING } from "../lib/model.ts";
import { simEc2Client } from "./sim/sdk_client.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";

async function withFleet(fn: (vpc: StandardVpc, ec2: EC2Client) => Promise<void>) {
  await using vpc = await SimVpc.standard();
  const ec2 = simEc2Client(vpc.ec2Endpoint, { maxAttempts: 1 });
  try {
    await fn(vpc, ec2);
  } finally {
    ec2.destroy();
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(promise, (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, code, error.message);
    assert.match(error.message, message);
    assert.equal(error.$metadata?.httpStatusCode, 400);
    return true;
  });
}

Deno.test("simulated CreateTags and DeleteTags", async (t) => {
  await withFleet(async (vpc, ec2) => {
    const [a1] = vpc.fleet.natIds as [string];
    const tagsOf = async (id: string) => {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      return out.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
    };

    await t.step("CreateTags sets a tag that DescribeInstances shows", async () => {
      await ec2.send(
        new CreateTagsCommand({
          Resources: [a1],
          Tags: [{ Key: TAG_DRAINING, Value: "2026-12-01T12:00:00Z" }],
        }),
      );
      assert.ok(
        (await tagsOf(a1)).some((tag) =>
          tag.Key === TAG_DRAINING && tag.Value === "2026-12-01T12:00:00Z"
        ),
      );
    });

    await t.step("DeleteTags with a key and another value keeps the tag", async () => {
      await ec2.send(
        new DeleteTagsCommand({
          Resources: [a1],
          Tags: [{ Key: TAG_DRAINING, Value: "something else" }],
        }),
      );
      assert.equal(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], "2026-12-01T12:00:00Z");
    });

    await t.step("DeleteTags with the key alone removes it, whatever its value", async () => {
      await ec2.send(new DeleteTagsCommand({ Resources: [a1], Tags: [{ Key: TAG_DRAINING }] }));
      assert.equal(vpc.ec2.instance(a1)!.tags[TAG_DRAINING], undefined);
      assert.ok(Object.keys(vpc.ec2.instance(a1)!.tags).length > 0, "other tags stay");
    });

    await t.step("errors carry EC2's codes", async () => {
      const tags = [{ Key: TAG_DRAINING, Value: "x" }];
      await rejectsWith(
        ec2.send(new CreateTagsCommand({ Resources: ["i-nothing"], Tags: tags })),
        "InvalidID",
        /The ID 'i-nothing' is not valid/,
      );
      await rejectsWith(
        ec2.send(new CreateTagsCommand({ Resources: ["i-0123456789abcdef0"], Tags: tags })),
        "InvalidInstanceID.NotFound",
        /does not exist/,
      );
      await rejectsWith(
        ec2.send(new CreateTagsCommand({ Resources: [a1], Tags: [{ Key: "aws:x", Value: "1" }] })),
        "InvalidParameterValue",
        /Tag keys starting with 'aws:' are reserved/,
      );
      await rejectsWith(
        ec2.send(new CreateTagsCommand({ Resources: [a1], Tags: [] })),
        "MissingParameter",
        /Tag/,
      );
    });
  });
});
