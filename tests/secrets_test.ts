/**
 * Secrets: the real program, logging at debug, through a failover and injected API errors
 * (throttling, 500s, rejected credentials), with static keys in the environment and
 * separately with instance-role credentials that rotate; then `--help`, `--version` and bad
 * input with credentials in the environment. No output line ever holds a secret access key
 * or a session token (nor the access key id, though AWS treats that one as non-secret).
 */
import assert from "node:assert/strict";
import { FAST, routerArgs } from "./e2e.ts";
import { assertConverged, logFrom } from "./faults_support.ts";
import { type RouterProcess, runRouter, simEnv, startRouter } from "./router_process.ts";
import { newRoleCredentials } from "./sim/imds.ts";
import { SimVpc, type StandardVpc, TEST_CREDENTIALS } from "./sim/vpc.ts";

const SESSION_TOKEN = `FwoGZXIvYXdzEJr//////////wEaDSecretSessionToken${crypto.randomUUID()}`;

/** Asserts no line holds any of `secrets` (or a telling piece of one). */
function assertNoSecret(lines: readonly string[], secrets: readonly string[]): void {
  assert.ok(lines.length > 0, "there is output to check");
  for (const secret of secrets) {
    const pieces = [secret, secret.slice(0, 16), secret.slice(-16)];
    const leaked = lines.filter((line) => pieces.some((piece) => line.includes(piece)));
    assert.deepEqual(leaked, [], `a line holds (part of) a secret ${secret.slice(0, 4)}…`);
  }
}

/** A failover and back, with a throttled write, 500s on Describe and rejected credentials. */
async function exercise(
  vpc: StandardVpc,
  router: RouterProcess,
  accessKeyId: () => string,
): Promise<void> {
  const server = vpc.ec2Server;
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const before = vpc.ec2.snapshot();
  await assertConverged(vpc, before, [a1, a2, b1]);
  const log = logFrom(router);
  server.inject("throttle", { action: "ReplaceRoute", count: 1000 });
  await vpc.nat(b1).setMode("refusing");
  await log.waitFor(/ERROR route\.failed .*code=RequestLimitExceeded/, 40_000);
  server.clearFaults();
  await assertConverged(vpc, before, [a1, a2]);
  server.inject("internalError", { action: "DescribeInstances", count: 1000 });
  await log.waitFor(/ERROR discovery\.failed .*code=InternalError/);
  server.clearFaults();
  const key = accessKeyId();
  server.revokedAccessKeys.add(key);
  await log.waitFor(/ERROR discovery\.failed .*code=AuthFailure/);
  server.revokedAccessKeys.delete(key);
  await vpc.nat(b1).setMode("up");
  await assertConverged(vpc, before, [a1, a2, b1]);
  await log.waitFor(/DEBUG /);
}

Deno.test("no secret in any log line at debug level, with static keys in the environment", async () => {
  const vpc = await SimVpc.standard();
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--log-level", "debug"]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, { ...vpc.routerEnv(), AWS_SESSION_TOKEN: SESSION_TOKEN }),
  });
  try {
    await exercise(vpc, router, () => TEST_CREDENTIALS.accessKeyId);
    assert.equal(await router.stop(), 0);
    assert.ok(vpc.ec2Server.calls.every((c) => c.accessKeyId === TEST_CREDENTIALS.accessKeyId));
    assertNoSecret(router.lines, [
      TEST_CREDENTIALS.secretAccessKey,
      SESSION_TOKEN,
      TEST_CREDENTIALS.accessKeyId,
    ]);
  } finally {
    await router.stop();
    vpc.ec2Server.clearFaults();
    await vpc.close();
  }
});

Deno.test("no secret in any log line at debug level, with rotating instance-role credentials", async () => {
  const vpc = await SimVpc.standard();
  const [a1] = vpc.fleet.natIds as [string];
  const imds = vpc.imds(a1);
  const first = imds.setCredentials(newRoleCredentials(Date.now(), 4 * 60_000)); // refreshed often
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--ec2-election", "--log-level", "debug"]),
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a1) }, { AWS_REGION: vpc.region }),
  });
  try {
    await exercise(vpc, router, () => imds.credentials.accessKeyId);
    const second = imds.rotateCredentials(4 * 60_000);
    const log = logFrom(router);
    await vpc.nat(vpc.fleet.natIds[2]!).setMode("refusing");
    await log.waitFor(/route\.replaced .*reason=nat_unhealthy/);
    assert.ok(vpc.ec2Server.calls.some((c) => c.accessKeyId === second.accessKeyId));
    assert.equal(await router.stop(), 0);
    assertNoSecret(router.lines, [
      first.secretAccessKey,
      first.token,
      first.accessKeyId,
      second.secretAccessKey,
      second.token,
      second.accessKeyId,
      "sim-token-", // the metadata service's session tokens
    ]);
  } finally {
    await router.stop();
    vpc.ec2Server.clearFaults();
    await vpc.close();
  }
});

Deno.test("no secret in --help, --version or bad-input errors with credentials in the environment", async (t) => {
  const vpc = await SimVpc.standard();
  const env = simEnv({ ec2: vpc.ec2Endpoint }, {
    ...vpc.routerEnv(),
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    AWS_NAT_ROUTER_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, // a misnamed variable
  });
  const secrets = [TEST_CREDENTIALS.secretAccessKey, SESSION_TOKEN, TEST_CREDENTIALS.accessKeyId];
  try {
    const cases: { name: string; args: string[]; code: number; shows: RegExp }[] = [
      { name: "--help", args: ["--help"], code: 0, shows: /Usage:/ },
      { name: "--version", args: ["--version"], code: 0, shows: /aws-nat-router \d/ },
      { name: "a bad --vpc-id", args: ["--vpc-id", "vpc-XYZ"], code: 2, shows: /--vpc-id/ },
      {
        name: "a bad --port",
        args: ["--vpc-id", vpc.vpcId, "--port", "abc"],
        code: 2,
        shows: /--port/,
      },
      {
        name: "a debug dry run beside a misnamed variable holding the secret",
        args: routerArgs(vpc, ["--once", "--dry-run", "--log-level", "debug"]),
        code: 0,
        shows: /route\.planned dry_run=true/,
      },
    ];
    for (const c of cases) {
      await t.step(`${c.name} prints no secret`, async () => {
        const { code, stderr, stdout } = await runRouter({ args: c.args, env });
        const lines = [...stderr, ...stdout];
        assert.equal(code, c.code, lines.join("\n"));
        assert.ok(lines.some((line) => c.shows.test(line)), lines.join("\n"));
        assertNoSecret(lines, secrets);
      });
    }
  } finally {
    await vpc.close();
  }
});
