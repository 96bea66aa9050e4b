/**
 * @module Acceptance tests of the simulated instance metadata service (IMDSv2): tokens are
 * required and validated, every path the router reads answers, the controls (refused tokens,
 * down, latency, rotated credentials) behave, and credentials served there sign EC2 calls.
 */

import assert from "node:assert/strict";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { ImdsServer, newRoleCredentials } from "./sim/imds.ts";
import { simEc2Client } from "./sim/sdk_client.ts";
import { SimVpc } from "./sim/vpc.ts";

const TOKEN_TTL = "x-aws-ec2-metadata-token-ttl-seconds";

async function token(endpoint: string, ttl = "60"): Promise<string> {
  const response = await fetch(`${endpoint}/latest/api/token`, {
    method: "PUT",
    headers: { [TOKEN_TTL]: ttl },
  });
  assert.equal(response.status, 200);
  return response.text();
}

async function get(endpoint: string, path: string, tokenValue?: string) {
  const headers: Record<string, string> = tokenValue
    ? { "x-aws-ec2-metadata-token": tokenValue }
    : {};
  const response = await fetch(`${endpoint}${path}`, { headers });
  return { status: response.status, body: await response.text() };
}

Deno.test("the metadata service requires IMDSv2 tokens", async (t) => {
  let now = Date.UTC(2026, 0, 1);
  const imds = new ImdsServer({
    instanceId: "i-0123456789abcdef0",
    zone: "us-east-1b",
    region: "us-east-1",
    now: () => now,
  });
  try {
    const path = "/latest/meta-data/instance-id";
    await t.step("a GET without a token is refused with 401", async () => {
      assert.equal((await get(imds.endpoint, path)).status, 401);
    });

    await t.step("a GET with an unknown token is refused with 401", async () => {
      assert.equal((await get(imds.endpoint, path, "forged")).status, 401);
    });

    const ttlCases: readonly [string | undefined, number][] = [
      [undefined, 400],
      ["0", 400],
      ["21601", 400],
      ["ten", 400],
      ["-5", 400],
      ["1", 200],
      ["21600", 200],
    ];
    for (const [ttl, status] of ttlCases) {
      await t.step(`PUT token with TTL ${ttl ?? "missing"} answers ${status}`, async () => {
        const response = await fetch(`${imds.endpoint}/latest/api/token`, {
          method: "PUT",
          headers: ttl === undefined ? {} : { [TOKEN_TTL]: ttl },
        });
        await response.body?.cancel();
        assert.equal(response.status, status);
        if (status === 200) assert.equal(response.headers.get(TOKEN_TTL), ttl);
      });
    }

    await t.step("a token works until its TTL has passed", async () => {
      const value = await token(imds.endpoint, "2");
      assert.deepEqual(await get(imds.endpoint, path, value), {
        status: 200,
        body: "i-0123456789abcdef0",
      });
      now += 2001;
      assert.equal((await get(imds.endpoint, path, value)).status, 401);
    });

    await t.step("a token request through a proxy (X-Forwarded-For) is refused", async () => {
      const response = await fetch(`${imds.endpoint}/latest/api/token`, {
        method: "PUT",
        headers: { [TOKEN_TTL]: "60", "x-forwarded-for": "127.0.0.9" },
      });
      await response.body?.cancel();
      assert.equal(response.status, 403);
    });

    await t.step("a GET of the token path is not allowed", async () => {
      assert.equal((await get(imds.endpoint, "/latest/api/token")).status, 405);
    });
  } finally {
    await imds.close();
  }
});

Deno.test("the metadata service serves every path the router reads", async (t) => {
  await using vpc = await SimVpc.start({ region: "eu-west-1" });
  const instanceId = vpc.addInstance({ zone: "eu-west-1c" });
  const privateIp = vpc.ec2.instance(instanceId)!.privateIp!;
  const endpoint = vpc.imdsEndpoint(instanceId);
  const value = await token(endpoint);
  const imds = vpc.imds(instanceId);

  const cases: readonly [string, string][] = [
    ["/latest/meta-data/instance-id", instanceId],
    ["/latest/meta-data/placement/availability-zone", "eu-west-1c"],
    ["/latest/meta-data/placement/region", "eu-west-1"],
    ["/latest/meta-data/local-ipv4", privateIp],
    ["/latest/meta-data/iam/security-credentials/", "aws-nat-router"],
    ["/latest/meta-data/instance-life-cycle", "on-demand"],
  ];
  for (const [path, expected] of cases) {
    await t.step(`${path} is ${expected}`, async () => {
      assert.deepEqual(await get(endpoint, path, value), { status: 200, body: expected });
    });
  }

  await t.step("the role's credentials are AWS-HMAC JSON", async () => {
    const { status, body } = await get(
      endpoint,
      "/latest/meta-data/iam/security-credentials/aws-nat-router",
      value,
    );
    assert.equal(status, 200);
    const document = JSON.parse(body);
    assert.equal(document.Code, "Success");
    assert.equal(document.Type, "AWS-HMAC");
    assert.equal(document.AccessKeyId, imds.credentials.accessKeyId);
    assert.match(document.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(document.SecretAccessKey && document.Token);
    assert.match(document.LastUpdated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(document.Expiration) > Date.now() + 3600_000);
  });

  await t.step("the identity document names the instance, zone, region and address", async () => {
    const { status, body } = await get(
      endpoint,
      "/latest/dynamic/instance-identity/document",
      value,
    );
    assert.equal(status, 200);
    const document = JSON.parse(body);
    assert.equal(document.instanceId, instanceId);
    assert.equal(document.availabilityZone, "eu-west-1c");
    assert.equal(document.region, "eu-west-1");
    assert.equal(document.privateIp, privateIp);
    assert.equal(document.accountId, "123456789012");
  });

  await t.step("a spot interruption shows on a spot instance only", async () => {
    const path = "/latest/meta-data/spot/instance-action";
    imds.spotInstanceAction = { action: "terminate", time: Date.UTC(2026, 11, 2, 12, 0, 0) };
    assert.equal((await get(endpoint, path, value)).status, 404, "on-demand: never");
    imds.lifeCycle = "spot";
    assert.equal(
      (await get(endpoint, "/latest/meta-data/instance-life-cycle", value)).body,
      "spot",
    );
    assert.deepEqual(await get(endpoint, path, value), {
      status: 200,
      body: '{"action":"terminate","time":"2026-12-02T12:00:00Z"}',
    });
    imds.spotInstanceAction = undefined;
    assert.equal((await get(endpoint, path, value)).status, 404, "none scheduled");
  });

  await t.step("the Auto Scaling state is 404 outside a group", async () => {
    const path = "/latest/meta-data/autoscaling/target-lifecycle-state";
    assert.equal((await get(endpoint, path, value)).status, 404);
    imds.lifecycleState = "InService";
    assert.deepEqual(await get(endpoint, path, value), { status: 200, body: "InService" });
  });

  await t.step("an unknown path is 404", async () => {
    assert.equal((await get(endpoint, "/latest/meta-data/unicorn", value)).status, 404);
  });

  await t.step("requests are counted and logged", () => {
    assert.ok(imds.requestCount >= cases.length + 4);
    assert.deepEqual(imds.requests[0], { method: "PUT", path: "/latest/api/token", status: 200 });
  });

  await t.step("an instance without a role has no credentials", async () => {
    const bare = vpc.addInstance({ role: null });
    const bareEndpoint = vpc.imdsEndpoint(bare);
    const bareToken = await token(bareEndpoint);
    const path = "/latest/meta-data/iam/security-credentials/";
    assert.equal((await get(bareEndpoint, path, bareToken)).status, 404);
  });
});

Deno.test("metadata service controls: refused tokens, down, slow, new credentials", async (t) => {
  await using vpc = await SimVpc.start();
  const instanceId = vpc.addInstance();
  const imds = vpc.imds(instanceId);
  const endpoint = imds.endpoint;

  await t.step("with refuseTokens the token PUT answers 403", async () => {
    imds.refuseTokens = true;
    const response = await fetch(`${endpoint}/latest/api/token`, {
      method: "PUT",
      headers: { [TOKEN_TTL]: "60" },
    });
    await response.body?.cancel();
    assert.equal(response.status, 403);
    imds.refuseTokens = false;
    await token(endpoint);
  });

  await t.step("a down service refuses connections until it is up again", async () => {
    await imds.down();
    await assert.rejects(token(endpoint));
    imds.up();
    await token(endpoint);
  });

  await t.step("added latency slows every answer", async () => {
    imds.latencyMs = 200;
    const started = performance.now();
    await token(endpoint);
    assert.ok(performance.now() - started >= 150);
    imds.latencyMs = 0;
  });

  await t.step("rotated credentials are served from then on", async () => {
    const before = imds.credentials;
    const rotated = imds.rotateCredentials(60_000);
    assert.notEqual(rotated.accessKeyId, before.accessKeyId);
    const { body } = await get(
      endpoint,
      "/latest/meta-data/iam/security-credentials/aws-nat-router",
      await token(endpoint),
    );
    const document = JSON.parse(body);
    assert.equal(document.AccessKeyId, rotated.accessKeyId);
    assert.equal(Date.parse(document.Expiration), Math.floor(rotated.expiration / 1000) * 1000);
  });
});

Deno.test("credentials from the metadata service sign EC2 calls; the call log shows rotation", async () => {
  await using vpc = await SimVpc.start();
  const instanceId = vpc.addInstance();
  const imds = vpc.imds(instanceId);
  const roleCredentials = async () => {
    const path = "/latest/meta-data/iam/security-credentials/aws-nat-router";
    const { body } = await get(imds.endpoint, path, await token(imds.endpoint));
    const document = JSON.parse(body);
    return {
      accessKeyId: document.AccessKeyId,
      secretAccessKey: document.SecretAccessKey,
      sessionToken: document.Token,
      expiration: new Date(document.Expiration),
    };
  };
  const ec2 = simEc2Client(vpc.ec2Endpoint, { credentials: roleCredentials });
  try {
    // Credentials about to expire: the SDK fetches them again before each call.
    const expiring = imds.setCredentials(newRoleCredentials(Date.now(), 4 * 60_000));
    await ec2.send(new DescribeInstancesCommand({}));
    const fresh = imds.rotateCredentials();
    await ec2.send(new DescribeInstancesCommand({}));
    await ec2.send(new DescribeInstancesCommand({}));
    assert.deepEqual(vpc.ec2Server.calls.map((c) => c.accessKeyId), [
      expiring.accessKeyId,
      fresh.accessKeyId,
      fresh.accessKeyId,
    ]);
  } finally {
    ec2.destroy();
  }
});
