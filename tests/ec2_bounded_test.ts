/**
 * @module The EC2 adapter against the simulated endpoint: no call can hang the node. An
 * answer whose head arrives and whose body then stalls is cut off by the request timeout
 * (each attempt), retried as a timeout, and finally fails with `TimeoutError`.
 */
import assert from "node:assert/strict";
import { createEc2, type Ec2Error } from "../lib/adapters/ec2.ts";
import { SimVpc } from "./sim/vpc.ts";

const TIMEOUT_MS = 1_000;

Deno.test({
  name: "an EC2 answer that stalls after its head cannot hang a call",
  fn: async () => {
    const vpc = await SimVpc.standard();
    const env = vpc.routerEnv();
    const ec2 = createEc2({
      region: vpc.region,
      credentials: () =>
        Promise.resolve({
          accessKeyId: env.AWS_ACCESS_KEY_ID!,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
        }),
      requestTimeoutMs: TIMEOUT_MS,
      endpoint: vpc.ec2Endpoint,
    });
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      vpc.ec2Server.inject("stall", { action: "DescribeInstances", count: 10 });
      const started = performance.now();
      const call = ec2.describeInstances({ vpcId: vpc.vpcId, clusterId: "squid" }).then(
        () => "answered",
        (error: Ec2Error) => error.code,
      );
      const hung = new Promise<string>((resolve) => {
        guard = setTimeout(() => resolve("still waiting after 30 s"), 30_000);
      });
      const outcome = await Promise.race([call, hung]);
      const tookMs = performance.now() - started;
      assert.equal(outcome, "TimeoutError", "the stalled body is cut off by the request timeout");
      const attempts = vpc.ec2Server.callCount("DescribeInstances");
      assert.ok(attempts >= 2, `a timeout is retried like one (${attempts} attempts)`);
      assert.ok(
        tookMs < attempts * TIMEOUT_MS + 5_000,
        `each attempt bounded by the timeout: ${Math.round(tookMs)} ms for ${attempts} attempts`,
      );
      vpc.ec2Server.clearFaults();
      const after = await ec2.describeInstances({ vpcId: vpc.vpcId, clusterId: "squid" });
      assert.equal(after.items.length, vpc.fleet.natIds.length, "and the next call works");
    } finally {
      clearTimeout(guard);
      ec2.destroy();
      await vpc.close();
    }
  },
});
