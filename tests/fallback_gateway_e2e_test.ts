/**
 * End-to-end: `--fallback-nat-gateway` is checked with DescribeNatGateways before it is ever
 * needed. At start, a gateway that is missing, not available, in another VPC or private is bad
 * input: one line naming it, exit 2, nothing changed (only the Describe calls reached EC2).
 */
import assert from "node:assert/strict";
import { BAD_FALLBACK_GATEWAY_CASES } from "./bad_input_cases.ts";
import { misrouting, routerArgs } from "./e2e.ts";
import { runRouter, simEnv } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

const GATEWAY = "nat-0a1b2c3d4e5f60718";

Deno.test("router --fallback-nat-gateway: an unusable gateway at start exits 2, one line", async (t) => {
  for (const c of BAD_FALLBACK_GATEWAY_CASES) {
    await t.step(c.name, async () => {
      const vpc = await SimVpc.standard();
      try {
        if (c.gateway !== undefined) {
          vpc.ec2.addNatGateway({
            natGatewayId: GATEWAY,
            vpcId: c.gateway.inOtherVpc ? vpc.fleet.foreignVpcId : vpc.vpcId,
            state: c.gateway.state,
            connectivityType: c.gateway.connectivityType,
          });
        }
        const before = vpc.ec2.snapshot();
        const { code, stderr } = await runRouter({
          args: routerArgs(vpc, ["--once", "--fallback-nat-gateway", GATEWAY]),
          env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
        });
        assert.equal(code, 2, stderr.join("\n"));
        const errors = stderr.filter((l) => l.startsWith("aws-nat-router: "));
        assert.equal(errors.length, 1, stderr.join("\n"));
        assert.equal(stderr.at(-1), errors[0], "the error is the last word");
        assert.ok(errors[0]!.includes(`--fallback-nat-gateway "${GATEWAY}"`), errors[0]);
        assert.ok(errors[0]!.includes(c.mentions), `${errors[0]} names ${c.mentions}`);
        assert.deepEqual(
          vpc.ec2Server.calls.map((call) => call.action).filter((a) => !a.startsWith("Describe")),
          [],
          "nothing but Describe calls",
        );
        assert.deepEqual(vpc.ec2.snapshot(), before, "nothing changed");
      } finally {
        await vpc.close();
      }
    });
  }

  await t.step("an available public gateway of the VPC passes, and the cycle runs", async () => {
    const vpc = await SimVpc.standard();
    try {
      vpc.ec2.addNatGateway({ natGatewayId: GATEWAY, vpcId: vpc.vpcId });
      const { code, stderr } = await runRouter({
        args: routerArgs(vpc, ["--once", "--fallback-nat-gateway", GATEWAY]),
        env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
      });
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(stderr.some((l) => l.includes(`fallback.checked nat_gateway_ids=${GATEWAY}`)));
      assert.equal(misrouting(vpc, vpc.fleet.natIds), undefined);
    } finally {
      await vpc.close();
    }
  });
});
