/**
 * End-to-end: `--fallback-nat-gateway` is checked with DescribeNatGateways before it is ever
 * needed. At start, a gateway that is missing, not available, in another VPC or private is bad
 * input: one line naming it, exit 2, nothing changed (only the Describe calls reached EC2).
 * While running, a gateway that becomes unusable is warned about and never written.
 */
import assert from "node:assert/strict";
import { BAD_FALLBACK_GATEWAY_CASES } from "./bad_input_cases.ts";
import { FAST, freePort, misrouting, routerArgs, waitUntil } from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
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

Deno.test("router --fallback-nat-gateway: a gateway deleted while running is never written", async () => {
  const vpc = await SimVpc.standard();
  vpc.ec2.addNatGateway({ natGatewayId: GATEWAY, vpcId: vpc.vpcId });
  const router = startRouter({
    args: routerArgs(vpc, [
      ...FAST,
      "--fallback-nat-gateway",
      GATEWAY,
      "--metrics-listen",
      `127.0.0.1:${freePort()}`,
    ]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  try {
    await waitUntil(
      "the initial allocation",
      () => misrouting(vpc, vpc.fleet.natIds) === undefined,
    );
    vpc.ec2.setNatGatewayState(GATEWAY, "deleted");
    await router.waitFor(
      new RegExp(`WARN fallback\\.unusable nat_gateway_id=${GATEWAY} reason=not_available`),
      30_000,
    );
    const listening = await router.waitFor(/metrics\.listening address=(\S+)/);
    const address = /address=(\S+)/.exec(listening)![1]!;
    const scraped = await (await fetch(`http://${address}/metrics`)).text();
    assert.match(scraped, new RegExp(`fallback_gateway_ok\\{nat_gateway_id="${GATEWAY}"\\} 0`));
    // Every NAT instance down: without a usable gateway, the routes are left as they are.
    for (const id of vpc.fleet.natIds) await vpc.nat(id).setMode("refusing");
    await router.waitFor(/ERROR allocation\.no_healthy_nat/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const toGateway = vpc.ec2Server.calls.filter((c) => c.params.NatGatewayId === GATEWAY);
    assert.deepEqual(toGateway, [], "no route was written to the deleted gateway");
  } finally {
    assert.equal(await router.stop(), 0);
    await vpc.close();
  }
});
