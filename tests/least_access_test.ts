/**
 * Least access, Deno side: the program's audited permission set in deno.json is exactly the
 * one documented in the README (network to AWS, the metadata service, VPC address ranges and
 * two listening ports; the environment variables it reads; the AWS shared config directory
 * and ip_forward; the OS release for the SDK's user agent; nothing else), the real program
 * runs a full cycle under exactly that set plus the simulator's loopback range, and the
 * runtime refuses what the set leaves out.
 */
import assert from "node:assert/strict";
import { ENV_NAMES, HEALTH_PORT } from "../lib/core/config.ts";
import { FAST, misrouting, routerArgs } from "./e2e.ts";
import { logFrom } from "./faults_support.ts";
import { MAIN, runArgs, runRouter, simEnv, startRouter } from "./router_process.ts";
import { V8_FLAGS } from "../scripts/compile.ts";
import { SimVpc } from "./sim/vpc.ts";

const ROOT = new URL("../", import.meta.url);
const CONFIG = new URL("deno.json", ROOT).pathname;

interface PermissionSet {
  readonly [kind: string]: unknown;
}

async function defaultSet(): Promise<PermissionSet> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  return config.permissions.default as PermissionSet;
}

/** Whether `name` is allowed by an env entry of a permission set (`AWS_*` is a prefix). */
function envAllowed(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : p === name);
}

/** Every environment variable name the program's own code reads by name. */
async function namesReadByTheProgram(): Promise<string[]> {
  const main = await Deno.readTextFile(MAIN);
  const sdkList = /const SDK_ENV = \[([^\]]*)\]/.exec(main)?.[1];
  assert.ok(sdkList !== undefined, "main.ts lists the SDK variables it reads in SDK_ENV");
  const names = [...ENV_NAMES, ...[...sdkList.matchAll(/"([A-Z0-9_]+)"/g)].map((m) => m[1]!)];
  const sources = [MAIN];
  for (const dir of ["lib/", "lib/core/", "lib/adapters/", "lib/runtime/"]) {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
        sources.push(new URL(`${dir}${entry.name}`, ROOT).pathname);
      }
    }
  }
  for (const path of sources) {
    const text = await Deno.readTextFile(path);
    for (const m of text.matchAll(/\benv(?:\.get)?\(\s*"([A-Za-z0-9_]+)"/g)) names.push(m[1]!);
  }
  return [...new Set(names)].sort();
}

Deno.test("deno.json's default permission set is exactly the audited one", async (t) => {
  const set = await defaultSet();

  await t.step("it grants only net, env, read and sys: no write, run, ffi, import or all", () => {
    assert.deepEqual(Object.keys(set).sort(), ["env", "net", "read", "sys"]);
  });

  await t.step("net: AWS endpoints on 443, the metadata service, VPC ranges, two listens", () => {
    assert.deepEqual(set.net, [
      "*.amazonaws.com:443", // the EC2 API
      "*.amazonaws.com.cn:443", // the EC2 API in the China regions
      "*.api.aws:443", // the EC2 API's dual-stack endpoints, ec2.REGION.api.aws
      "169.254.169.254:80", // the instance metadata service
      "[fd00:ec2::254]:80", // the instance metadata service over IPv6 (Nitro)
      "10.0.0.0/8", // health checks: the ranges a VPC can use
      "172.16.0.0/12",
      "192.168.0.0/16",
      "100.64.0.0/10",
      "198.19.0.0/16", // a range AWS also allows for VPCs (the namespace tests' VPC)
      `0.0.0.0:${HEALTH_PORT}`, // listening: --serve-health, beside squid's 3128
      "0.0.0.0:9100", // listening: --metrics-listen :9100
    ]);
    assert.ok(![3128, 3129, 3130, 9100].includes(HEALTH_PORT), "clear of squid and metrics");
  });

  await t.step(
    "Deno grants exactly the endpoints real deployments use, and no neighbour",
    async () => {
      const expected: readonly [string, "granted" | "prompt"][] = [
        ["ec2.us-east-1.amazonaws.com:443", "granted"],
        ["ec2.cn-north-1.amazonaws.com.cn:443", "granted"],
        ["ec2.eu-west-1.api.aws:443", "granted"],
        ["169.254.169.254:80", "granted"],
        ["[fd00:ec2::254]:80", "granted"],
        [`0.0.0.0:${HEALTH_PORT}`, "granted"],
        ["[fd00:ec2::253]:80", "prompt"],
        ["ec2.us-east-1.amazonaws.com:80", "prompt"],
        ["example.com:443", "prompt"],
        ["0.0.0.0:3128", "prompt"],
      ];
      const script = await Deno.makeTempFile({ suffix: ".ts" });
      try {
        await Deno.writeTextFile(
          script,
          `for (const host of ${JSON.stringify(expected.map(([host]) => host))}) {
          console.log(host, (await Deno.permissions.query({ name: "net", host })).state);
        }`,
        );
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-P", "--no-prompt", "--quiet", "--config", CONFIG, script],
          cwd: new URL(".", ROOT).pathname,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
        assert.deepEqual(lines, expected.map(([host, state]) => `${host} ${state}`));
      } finally {
        await Deno.remove(script);
      }
    },
  );

  await t.step("env: named variables and the AWS_* family only", () => {
    const env = set.env as string[];
    assert.ok(Array.isArray(env), "env is a list, not true");
    assert.deepEqual(
      [...env].sort(),
      [
        "AWS_*",
        "HOME",
        "HOMEDRIVE",
        "HOMEPATH",
        "LOG_LEVEL",
        // The original tool's variables, which its deployments still set.
        "NAT_CLUSTER_ID",
        "NAT_EC2_ELECTION",
        "NAT_HC_PORT",
        "NAT_HC_PUBLIC",
        "NAT_HC_TIMEOUT",
        "NAT_INTERVAL",
        "NAT_VPC_ID",
        "USERPROFILE",
        "_X_AMZN_TRACE_ID",
      ],
    );
    for (const pattern of env) {
      assert.ok(!pattern.includes("*") || pattern === "AWS_*", `${pattern}: no other wildcard`);
    }
  });

  await t.step("every variable the program reads by name is in the set", async () => {
    const env = set.env as string[];
    const names = await namesReadByTheProgram();
    assert.ok(names.includes("AWS_NAT_ROUTER_VPC_ID") && names.includes("LOG_LEVEL"));
    assert.ok(names.includes("NAT_VPC_ID") && names.includes("NAT_HC_TIMEOUT"), "the original's");
    for (
      const envOnly of ["AWS_NAT_ROUTER_IP_FORWARD_PATH", "AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS"]
    ) {
      assert.ok(names.includes(envOnly), `${envOnly} is declared in config.ts's ENV_NAMES`);
    }
    for (const name of names) assert.ok(envAllowed(env, name), `${name} is read but not allowed`);
  });

  await t.step(
    "read: the AWS shared config directory and ip_forward; sys: OS release, uptime",
    () => {
      assert.deepEqual(set.read, [
        "/root/.aws",
        "/proc/sys/net/ipv4/ip_forward",
        // Deno needs --allow-all for any /proc path, so the self-check reads a bind mount of it
        "/run/aws-nat-router/ip_forward",
      ]);
      assert.deepEqual(set.sys, ["osRelease", "osUptime"]);
    },
  );

  await t.step("the README's permission table documents every entry and why", async () => {
    const readme = await Deno.readTextFile(new URL("README.md", ROOT));
    const section = readme.split("## Deno permissions")[1]?.split("\n## ")[0] ?? "";
    for (const [kind, values] of Object.entries(set)) {
      for (const value of values as string[]) {
        const row = section.split("\n").find((line) =>
          line.startsWith(`| ${kind} `) && line.includes(`\`${value}\``)
        );
        assert.ok(row, `README documents ${kind} ${value}`);
        assert.ok((row.split("|")[3] ?? "").trim().length > 0, `README says why ${kind} ${value}`);
      }
    }
  });
});

Deno.test("the end-to-end runs use exactly the audited set plus the loopback range", () => {
  const args = runArgs("127.0.0.0/8", ["--once"]);
  assert.deepEqual(args.slice(0, 5), [
    "run",
    "-P",
    "--allow-net=127.0.0.0/8",
    "--no-prompt",
    "--quiet",
  ]);
  // The V8 flags the release binary is compiled with are memory settings, not permissions.
  const v8 = args.filter((arg) => arg.startsWith("--v8-flags="));
  assert.deepEqual(v8, [`--v8-flags=${V8_FLAGS.join(",")}`]);
  const flags = args.filter((arg) => arg.startsWith("-") && arg !== "--once" && !v8.includes(arg));
  assert.deepEqual(flags, ["-P", "--allow-net=127.0.0.0/8", "--no-prompt", "--quiet"]);
  assert.ok(!args.some((arg) => /^(-A|--allow-all|-P=|--permission-set)/.test(arg)));
  assert.deepEqual(runArgs(undefined, []).slice(0, 4), ["run", "-P", "--no-prompt", "--quiet"]);
});

Deno.test("the full program cycle runs under the audited set plus the loopback range", async () => {
  const vpc = await SimVpc.standard();
  try {
    const { code, stderr } = await runRouter({
      args: routerArgs(vpc, ["--once", "--log-level", "debug"]),
      env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
    });
    assert.equal(code, 0, stderr.join("\n"));
    assert.equal(misrouting(vpc, vpc.fleet.natIds), undefined);
    assert.deepEqual(
      stderr.filter((l) =>
        /NotCapable|Requires \w+ access|not_permitted|outside the permission set/.test(l)
      ),
      [],
    );
  } finally {
    await vpc.close();
  }
});

Deno.test("the runtime refuses connections outside the set", async (t) => {
  const vpc = await SimVpc.standard();
  const env = simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv());
  try {
    await t.step(
      "without the loopback range the EC2 endpoint is unreachable: NotCapable, and the fix",
      async () => {
        const router = startRouter({
          name: "no-loopback",
          net: undefined,
          args: routerArgs(vpc, FAST),
          env,
        });
        try {
          const port = new URL(vpc.ec2Endpoint).port;
          await logFrom(router).waitFor(
            new RegExp(
              `ERROR discovery\\.failed action=Describe\\w+ code=NotCapable error="net access to \\\\"127\\.0\\.0\\.1:${port}\\\\" is outside the permission set; add it to the \\\\"default\\\\" permission set in deno\\.json, then rebuild with deno task compile"`,
            ),
          );
          assert.equal(vpc.ec2Server.calls.length, 0, "no call reached the simulator");
        } finally {
          assert.equal(await router.stop(), 0, router.lines.slice(-5).join("\n"));
        }
      },
    );

    await t.step(
      "with only the EC2 endpoint added, probes of the NATs are refused, once each with the fix",
      async () => {
        const router = startRouter({
          name: "endpoint-only",
          net: new URL(vpc.ec2Endpoint).host,
          args: routerArgs(vpc, FAST),
          env,
        });
        try {
          for (const id of vpc.fleet.natIds) {
            await router.waitFor(
              new RegExp(`health\\.changed instance_id=${id} healthy=false .*error=not_permitted`),
            );
            await router.waitFor(
              new RegExp(
                `ERROR probe\\.not_permitted instance_id=${id} address=\\S+ fix="the health check's address is outside the permission set; add it to the \\\\"default\\\\" permission set in deno\\.json, then rebuild with deno task compile"`,
              ),
            );
          }
          assert.equal(
            router.grep(/probe\.not_permitted/).length,
            vpc.fleet.natIds.length,
            "one line per refused address, not one per probe",
          );
          await router.waitFor(/ERROR allocation\.no_healthy_nat /);
          for (const id of vpc.fleet.natIds) {
            assert.equal(vpc.nat(id).accepted, 0, `nothing reached ${id}'s health listener`);
          }
          const writes = vpc.ec2Server.calls.filter((c) => !c.action.startsWith("Describe"));
          assert.deepEqual(writes, [], "nothing written without a healthy NAT");
        } finally {
          assert.equal(await router.stop(), 0, router.lines.slice(-5).join("\n"));
        }
      },
    );
  } finally {
    await vpc.close();
  }
});
