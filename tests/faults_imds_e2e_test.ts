/**
 * End-to-end, instance metadata faults: the real program against the simulated VPC while its
 * metadata service is down, slow or refuses tokens, with and without `--ec2-election`, and
 * while the instance role's credentials are unavailable or rotated. The router keeps
 * running, logs one line naming the cause, and converges once the fault clears.
 */
import assert from "node:assert/strict";
import { FAST, routerArgs } from "./e2e.ts";
import { assertConverged, logFrom, watch } from "./faults_support.ts";
import { type RouterProcess, simEnv, startRouter } from "./router_process.ts";
import type { ImdsServer } from "./sim/imds.ts";
import { SimVpc } from "./sim/vpc.ts";

const WRITES = ["CreateRoute", "ReplaceRoute", "ModifyInstanceAttribute"];

interface MetadataFault {
  readonly name: string;
  apply(imds: ImdsServer): Promise<void> | void;
  clear(imds: ImdsServer): void;
  /** The `identity.failed` line, naming the cause; `undefined`: there must be none. */
  readonly logged: RegExp | undefined;
}

const FAULTS: readonly MetadataFault[] = [
  {
    name: "down (connections refused)",
    apply: (imds) => imds.down(),
    clear: (imds) => imds.up(),
    logged:
      /ERROR identity\.failed error=".*instance metadata service at http:\/\/(127\.[\d.]+:\d+): connection refused by \1" retry_in_s=\d+ fix="run it on an EC2 instance .*or drop --ec2-election"/,
  },
  {
    name: "slower than the metadata timeout",
    apply: (imds) => void (imds.latencyMs = 1500),
    clear: (imds) => void (imds.latencyMs = 0),
    logged:
      /ERROR identity\.failed error=".*instance metadata service at .*no answer within 1000ms/,
  },
  {
    name: "refusing tokens (403)",
    apply: (imds) => void (imds.refuseTokens = true),
    clear: (imds) => void (imds.refuseTokens = false),
    logged: /ERROR identity\.failed error=".*token request answered HTTP 403/,
  },
  {
    name: "slow but within the timeout",
    apply: (imds) => void (imds.latencyMs = 300),
    clear: (imds) => void (imds.latencyMs = 0),
    logged: undefined,
  },
];

Deno.test("router waits out a faulty metadata service, with and without --ec2-election", async (t) => {
  const vpc = await SimVpc.standard();
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const all = [a1, a2, b1];
  const imds = vpc.imds(a1);
  const [tableA] = vpc.fleet.tablesByZone[vpc.fleet.zones[0]!] as [string];
  const before = vpc.ec2.snapshot();
  let router: RouterProcess | undefined;
  const start = (extra: readonly string[]) =>
    router = startRouter({
      args: routerArgs(vpc, [...FAST, ...extra]),
      env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a1) }, vpc.routerEnv()),
    });
  try {
    for (const fault of FAULTS) {
      await t.step(`with --ec2-election, metadata ${fault.name} at start`, async () => {
        await fault.apply(imds);
        if (vpc.ec2.defaultRouteTarget(tableA) !== undefined) {
          vpc.ec2.deleteRoute(tableA, "0.0.0.0/0"); // something to converge on
        }
        const calls = vpc.ec2Server.calls.length;
        const running = start(["--ec2-election"]);
        const { assertRunning } = watch(running);
        try {
          if (fault.logged) {
            await running.waitFor(fault.logged, 20_000);
            assertRunning();
            assert.equal(vpc.ec2Server.calls.length, calls, "no EC2 call before it knows itself");
          }
          fault.clear(imds);
          await running.waitFor(new RegExp(`INFO identity\\.resolved instance_id=${a1} `), 20_000);
          await assertConverged(vpc, before, all);
          if (!fault.logged) assert.deepEqual(running.grep(/identity\.failed/), []);
        } finally {
          fault.clear(imds);
          assert.equal(await running.stop(), 0, running.lines.slice(-10).join("\n"));
        }
      });
    }

    await t.step(
      "without --ec2-election, static keys and AWS_REGION: metadata never needed",
      async () => {
        await imds.down();
        const requests = imds.requestCount;
        const running = start([]);
        const { assertRunning } = watch(running);
        try {
          vpc.ec2.deleteRoute(tableA, "0.0.0.0/0");
          await assertConverged(vpc, before, all);
          imds.up();
          const log = logFrom(running);
          await vpc.nat(b1).setMode("refusing");
          await assertConverged(vpc, before, [a1, a2]);
          await log.waitFor(/route\.replaced .*reason=nat_unhealthy/);
          await vpc.nat(b1).setMode("up");
          await assertConverged(vpc, before, all);
          assertRunning();
          assert.equal(imds.requestCount, requests, "the metadata service was never asked");
          assert.deepEqual(running.grep(/metadata|identity/), []);
        } finally {
          imds.up();
          assert.equal(await running.stop(), 0, running.lines.slice(-10).join("\n"));
        }
      },
    );
  } finally {
    await router?.stop();
    await vpc.close();
  }
});

Deno.test("router with instance-role credentials survives their absence and their rotation", async (t) => {
  const vpc = await SimVpc.standard();
  const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
  const all = [a1, a2, b1];
  const imds = vpc.imds(a1);
  const server = vpc.ec2Server;
  // Valid for 4 minutes: inside the SDK's 5-minute window, so it reads them again before use.
  const first = imds.rotateCredentials(4 * 60_000);
  await imds.down();
  const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noKeys } = vpc.routerEnv();
  const router = startRouter({
    args: routerArgs(vpc, FAST),
    env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(a1) }, noKeys),
  });
  const running = watch(router);
  const before = vpc.ec2.snapshot();
  try {
    await t.step(
      "no credentials while the metadata service is down: logged, nothing sent",
      async () => {
        await router.waitFor(
          /ERROR discovery\.failed action=Describe\w+ code=CredentialsError error="Cannot find AWS credentials: tried environment \(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set\), profile( default)? \(.+\), instance role \(.*connection refused by 127\.[\d.]+:\d+\); set AWS_ACCESS_KEY_ID/,
        );
        running.assertRunning();
        assert.equal(server.calls.length, 0, "no unsigned call reached EC2");
        imds.up();
        await assertConverged(vpc, before, all);
        const keys = new Set(server.calls.map((c) => c.accessKeyId));
        assert.deepEqual([...keys], [first.accessKeyId]);
      },
    );

    await t.step(
      "rotated credentials: the new key is used, the expired one never again",
      async () => {
        const log = logFrom(router);
        const second = imds.rotateCredentials();
        server.revokedAccessKeys.add(first.accessKeyId); // the old key has expired
        const rotated = Date.now();
        await vpc.nat(b1).setMode("refusing");
        await assertConverged(vpc, before, [a1, a2]);
        await log.waitFor(/route\.replaced .*reason=nat_unhealthy/);
        const after = server.calls.filter((c) => c.time > rotated);
        const firstNew = after.findIndex((c) => c.accessKeyId === second.accessKeyId);
        assert.ok(firstNew >= 0, "the new key was used");
        assert.deepEqual(
          after.slice(firstNew).filter((c) => c.accessKeyId !== second.accessKeyId),
          [],
          "once refreshed, only the new key",
        );
        assert.ok(
          after.some((c) =>
            WRITES.includes(c.action) && c.status === 200 && c.accessKeyId === second.accessKeyId
          ),
          "the failover was written with the new key",
        );
        await vpc.nat(b1).setMode("up");
        await assertConverged(vpc, before, all);
        running.assertRunning();
      },
    );
  } finally {
    imds.up();
    assert.equal(await router.stop(), 0, router.lines.slice(-10).join("\n"));
    await vpc.close();
  }
});
