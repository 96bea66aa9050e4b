/**
 * End-to-end: a deployment of the original tool (so0k/aws-nat-router) keeps working. Its
 * environment variables, short and one-dash flags and `--switch=true` drive a full cycle under
 * the audited permission set, a 1s `--timeout` alone no longer conflicts with the probe
 * interval, and its secret flags are refused in one line that never repeats the value.
 */
import assert from "node:assert/strict";
import { misrouting, waitUntil } from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

Deno.test("router run the original tool's way: its variables and flags, a full cycle", async () => {
  const vpc = await SimVpc.standard();
  const [leader] = vpc.fleet.natIds as [string];
  const router = startRouter({
    name: "original",
    // The original's spellings: short flags, one dash, and a switch with =true.
    args: ["-r", vpc.region, "-p", String(vpc.healthPort), "-l", "info", "-ec2-election=true"],
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(leader) }, {
      AWS_REGION: "",
      NAT_VPC_ID: vpc.vpcId,
      NAT_CLUSTER_ID: "squid",
      NAT_INTERVAL: "1s",
      NAT_EC2_ELECTION: "true",
      NAT_HC_PUBLIC: "false",
      NAT_HC_TIMEOUT: "1s",
      LOG_LEVEL: "INFO",
    }),
  });
  try {
    await router.waitFor(
      /WARN config\.warning warning="Derived --probe-interval \\"2s\\" from --timeout \(set by NAT_HC_TIMEOUT\) \\"1s\\"/,
    );
    await waitUntil(
      "every table on a NAT",
      () => misrouting(vpc, vpc.fleet.natIds) === undefined,
      20_000,
    );
    assert.deepEqual(router.grep(/route\.failed|ERROR/), []);
  } finally {
    const code = await router.stop();
    await vpc.close();
    assert.equal(code, 0, router.lines.slice(-10).join("\n"));
  }
});

Deno.test("router refuses the original's secret flags in one line, without the value", async (t) => {
  const vpc = await SimVpc.start();
  const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  try {
    for (const args of [["--aws-access-key", secret], [`--aws-secret-key=${secret}`]]) {
      await t.step(`${args[0]!.split("=")[0]} exits 2 with where credentials go`, async () => {
        const { code, stderr, stdout } = await runRouter({
          args: ["--vpc-id", "vpc-0123abcd", ...args],
          env: simEnv({ ec2: vpc.ec2Endpoint }),
        });
        assert.equal(code, 2);
        assert.equal(stderr.length, 1, stderr.join("\n"));
        assert.equal(stdout.length, 0);
        assert.match(stderr[0]!, /is not accepted: credentials never go on the command line/);
        assert.match(stderr[0]!, /AWS_ACCESS_KEY_ID/);
        assert.ok(!stderr[0]!.includes(secret), "the value is never repeated");
      });
    }
    assert.equal(vpc.ec2Server.calls.length, 0, "no EC2 call");
  } finally {
    await vpc.close();
  }
});
