/** @module Tests of command line and environment parsing into `Config`, and of `--help`. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { BAD_INPUT_CASES } from "../../tests/bad_input_cases.ts";
import { type Config, deriveTimings, ENV_NAMES, helpText, parseConfig } from "./config.ts";

type Env = Record<string, string>;

/** Parses and insists on a config; the failure message shows what came back instead. */
function configOf(args: readonly string[], env: Env = {}): Config {
  const result = parseConfig(args, env);
  assert.ok(
    result.ok && result.action === "config",
    `expected a config, got ${JSON.stringify(result)}`,
  );
  return result.config;
}

function errorOf(args: readonly string[], env: Env = {}): string {
  const result = parseConfig(args, env);
  assert.ok(!result.ok, `expected an error, got ${JSON.stringify(result)}`);
  return result.error;
}

const VPC = ["--vpc-id", "vpc-0123abcd"];

/**
 * `DEFAULTS` with `fields`, and the two timings that follow from the probe interval and the
 * failback delay derived again (their own rules are tested in "deriveTimings()").
 */
function expectedConfig(fields: Partial<Config>): Config {
  const merged = { ...DEFAULTS, ...fields };
  const { splitBackoffMs, successionMs } = deriveTimings(merged);
  return { ...merged, splitBackoffMs, successionMs };
}

const DEFAULTS: Config = {
  command: "run",
  vpcId: "vpc-0123abcd",
  clusterId: "squid",
  region: undefined,
  ec2Election: false,
  intervalMs: 5_000,
  timeoutMs: 100,
  port: 3128,
  public: false,
  probeIntervalMs: 600,
  probeAttempts: 12,
  fall: 1,
  rise: 2,
  failbackDelayMs: 30_000,
  once: false,
  dryRun: false,
  recovery: "off",
  recoveryAfterMs: 300_000,
  fallbackNatGateway: undefined,
  selfCheck: false,
  egressCheck: undefined,
  serveHealth: undefined,
  metricsListen: undefined,
  heartbeatMs: 300_000,
  logLevel: "info",
  output: "table",
  ipForwardPath: "/proc/sys/net/ipv4/ip_forward",
  serveHealthAddress: "0.0.0.0",
  bootedAt: "",
  requestTimeoutMs: 5_000,
  writeTrustMs: 10_000,
  splitBackoffMs: 240_000,
  successionMs: 5_600,
};

Deno.test("parseConfig() accepts", async (t) => {
  const cases: readonly {
    name: string;
    args: readonly string[];
    env?: Env;
    expected: Partial<Config>;
  }[] = [
    {
      name: "the seed's systemd unit line with LOG_LEVEL=INFO",
      args: [
        ...VPC,
        "--cluster-id",
        "squid",
        "--ec2-election",
        "--timeout",
        "500ms",
        "--interval",
        "5s",
      ],
      env: { LOG_LEVEL: "INFO" },
      expected: { ec2Election: true, timeoutMs: 500, intervalMs: 5_000, logLevel: "info" },
    },
    { name: "only --vpc-id, with every default", args: VPC, expected: {} },
    { name: "--vpc-id=ID", args: ["--vpc-id=vpc-0123abcd"], expected: {} },
    {
      name: "a 17-digit VPC id",
      args: ["--vpc-id", "vpc-0123456789abcdef0"],
      expected: { vpcId: "vpc-0123456789abcdef0" },
    },
    {
      name: "the status subcommand with --output json",
      args: ["status", ...VPC, "--output", "json"],
      expected: { command: "status", output: "json" },
    },
    {
      name: "the status subcommand after the flags",
      args: [...VPC, "status"],
      expected: { command: "status" },
    },
    {
      name: "--dry-run and --once with status, which never changes anything anyway",
      args: ["status", ...VPC, "--dry-run", "--once"],
      expected: { command: "status", dryRun: true, once: true },
    },
    {
      name: "a cluster id with spaces and every symbol a tag allows",
      args: [...VPC, "--cluster-id", "team a_b.c:d/e=f+g-h@i"],
      expected: { clusterId: "team a_b.c:d/e=f+g-h@i" },
    },
    {
      name: "a region",
      args: [...VPC, "--region", "us-gov-west-1"],
      expected: { region: "us-gov-west-1" },
    },
    {
      name: "a timeout just under a longer probe interval",
      args: [...VPC, "--timeout", "1.9s", "--probe-interval", "2s"],
      expected: { timeoutMs: 1_900, probeIntervalMs: 2_000 },
    },
    {
      name: "--heartbeat 0, which turns the heartbeat off",
      args: [...VPC, "--heartbeat", "0"],
      expected: { heartbeatMs: 0 },
    },
    {
      name: "AWS_NAT_ROUTER_HEARTBEAT=1m",
      args: VPC,
      env: { AWS_NAT_ROUTER_HEARTBEAT: "1m" },
      expected: { heartbeatMs: 60_000 },
    },
    {
      name: "--failback-delay 0",
      args: [...VPC, "--failback-delay", "0"],
      expected: { failbackDelayMs: 0 },
    },
    {
      name: "--recovery terminate with --recovery-after 10m",
      args: [...VPC, "--recovery", "terminate", "--recovery-after", "10m"],
      expected: { recovery: "terminate", recoveryAfterMs: 600_000 },
    },
    {
      name: "--recovery in upper case",
      args: [...VPC, "--recovery", "REBOOT"],
      expected: { recovery: "reboot" },
    },
    {
      name: "--fall 1 and --rise 10",
      args: [...VPC, "--fall", "1", "--rise", "10"],
      expected: { fall: 1, rise: 10 },
    },
    { name: "port 1", args: [...VPC, "--port", "1"], expected: { port: 1 } },
    { name: "port 65535", args: [...VPC, "--port", "65535"], expected: { port: 65535 } },
    {
      name: "the logrus name warning",
      args: [...VPC, "--log-level", "warning"],
      expected: { logLevel: "warn" },
    },
    {
      name: "a log level in upper case",
      args: [...VPC, "--log-level", "DEBUG"],
      expected: { logLevel: "debug" },
    },
    {
      name: "one fallback NAT gateway for every zone",
      args: [...VPC, "--fallback-nat-gateway", "nat-0123abcd"],
      expected: { fallbackNatGateway: { default: "nat-0123abcd", byZone: {} } },
    },
    {
      name: "fallback NAT gateways per zone, plus a default, with spaces",
      args: [
        ...VPC,
        "--fallback-nat-gateway",
        "us-east-1a=nat-0123abcd, us-east-1b = nat-0123456789abcdef0,nat-0456cdef",
      ],
      expected: {
        fallbackNatGateway: {
          default: "nat-0456cdef",
          byZone: { "us-east-1a": "nat-0123abcd", "us-east-1b": "nat-0123456789abcdef0" },
        },
      },
    },
    {
      name: "--metrics-listen :PORT, for every interface",
      args: [...VPC, "--metrics-listen", ":9100"],
      expected: { metricsListen: { hostname: "0.0.0.0", port: 9100 } },
    },
    {
      name: "--metrics-listen with a bracketed IPv6 address",
      args: [...VPC, "--metrics-listen", "[::1]:9100"],
      expected: { metricsListen: { hostname: "::1", port: 9100 } },
    },
    {
      name: "--metrics-listen with a host name",
      args: [...VPC, "--metrics-listen", "localhost:9100"],
      expected: { metricsListen: { hostname: "localhost", port: 9100 } },
    },
    {
      name: "--egress-check with --self-check",
      args: [...VPC, "--self-check", "--egress-check", "1.1.1.1:443"],
      expected: { selfCheck: true, egressCheck: { hostname: "1.1.1.1", port: 443 } },
    },
    {
      name: "--serve-health PORT",
      args: [...VPC, "--serve-health", "8080"],
      expected: { serveHealth: 8080 },
    },
    {
      name: "--serve-health ADDR:PORT, whose address wins over the environment's",
      args: [...VPC, "--serve-health", "10.0.1.5:3127"],
      env: { AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS: "127.0.0.1" },
      expected: { serveHealth: 3127, serveHealthAddress: "10.0.1.5" },
    },
    {
      name: "--serve-health [IPV6]:PORT",
      args: [...VPC, "--serve-health", "[::]:3127"],
      expected: { serveHealth: 3127, serveHealthAddress: "::" },
    },
    {
      name: "--serve-health :PORT, on every interface",
      args: [...VPC, "--serve-health", ":3127"],
      env: { AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS: "127.0.0.1" },
      expected: { serveHealth: 3127, serveHealthAddress: "0.0.0.0" },
    },
    {
      name: "--serve-health PORT with the address from the environment",
      args: [...VPC, "--serve-health", "3127"],
      env: { AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS: "127.0.0.1" },
      expected: { serveHealth: 3127, serveHealthAddress: "127.0.0.1" },
    },
    {
      name: "the self-checking fleet's pair of flags",
      args: [...VPC, "--self-check", "--serve-health", "3127", "--port", "3127"],
      expected: { selfCheck: true, serveHealth: 3127, port: 3127 },
    },
    {
      name: "AWS_NAT_ROUTER_OUTPUT without status, by ignoring it",
      args: VPC,
      env: { AWS_NAT_ROUTER_OUTPUT: "json" },
      expected: { output: "table" },
    },
    {
      name: "an empty variable, as unset",
      args: [],
      env: { AWS_NAT_ROUTER_VPC_ID: "vpc-0123abcd", AWS_NAT_ROUTER_CLUSTER_ID: "", LOG_LEVEL: "" },
      expected: {},
    },
    {
      name: "a variable with spaces around its value",
      args: [],
      env: { AWS_NAT_ROUTER_VPC_ID: " vpc-0123abcd\n", AWS_NAT_ROUTER_DRY_RUN: " yes " },
      expected: { dryRun: true },
    },
    {
      name: "a cluster id that reads like the subcommand",
      args: [...VPC, "--cluster-id", "status"],
      expected: { clusterId: "status" },
    },
  ];
  for (const { name, args, env, expected } of cases) {
    await t.step(`parseConfig() accepts ${name}`, () => {
      assert.deepEqual(configOf(args, env), expectedConfig(expected));
    });
  }
});

Deno.test("parseConfig() warnings", async (t) => {
  await t.step("parseConfig() accepts the README's placeholder vpc-123 with a warning", () => {
    const result = parseConfig(["--vpc-id", "vpc-123", "--cluster-id", "squid"], {});
    assert.ok(result.ok && result.action === "config");
    assert.equal(result.config.vpcId, "vpc-123");
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0] ?? "", /--vpc-id "vpc-123".*8 or 17 hex digits/);
  });

  await t.step("parseConfig() warns about an AWS_NAT_ROUTER_ variable no flag reads", () => {
    const result = parseConfig([], {
      AWS_NAT_ROUTER_VPC_ID: "vpc-0123abcd",
      AWS_NAT_ROUTER_DRYRUN: "true",
    });
    assert.ok(result.ok && result.action === "config");
    assert.deepEqual(result.warnings, [
      "Ignored AWS_NAT_ROUTER_DRYRUN: no flag reads it; did you mean AWS_NAT_ROUTER_DRY_RUN?",
    ]);
  });

  await t.step("parseConfig() gives no warning for a clean command line", () => {
    const result = parseConfig(VPC, { LOG_LEVEL: "INFO", AWS_REGION: "eu-west-1" });
    assert.ok(result.ok && result.action === "config");
    assert.deepEqual(result.warnings, []);
  });
});

/** One row per flag: its variable, a value there, and a different value as a flag. */
const EVERY_FLAG: readonly {
  variable: string;
  envText: string;
  fromEnv: Partial<Config>;
  flag: readonly string[];
  fromFlag: Partial<Config>;
  /** Needed for the value to be accepted (another flag it depends on). */
  context?: readonly string[];
}[] = [
  {
    variable: "AWS_NAT_ROUTER_VPC_ID",
    envText: "vpc-0123456789abcdef0",
    fromEnv: { vpcId: "vpc-0123456789abcdef0" },
    flag: ["--vpc-id", "vpc-0123abcd"],
    fromFlag: { vpcId: "vpc-0123abcd" },
  },
  {
    variable: "AWS_NAT_ROUTER_CLUSTER_ID",
    envText: "blue",
    fromEnv: { clusterId: "blue" },
    flag: ["--cluster-id", "green"],
    fromFlag: { clusterId: "green" },
  },
  {
    variable: "AWS_NAT_ROUTER_REGION",
    envText: "eu-west-1",
    fromEnv: { region: "eu-west-1" },
    flag: ["--region", "ap-southeast-2"],
    fromFlag: { region: "ap-southeast-2" },
  },
  {
    variable: "AWS_NAT_ROUTER_EC2_ELECTION",
    envText: "false",
    fromEnv: { ec2Election: false },
    flag: ["--ec2-election"],
    fromFlag: { ec2Election: true },
  },
  {
    variable: "AWS_NAT_ROUTER_INTERVAL",
    envText: "10s",
    fromEnv: {
      intervalMs: 10_000,
      requestTimeoutMs: 10_000,
      writeTrustMs: 20_000,
      successionMs: 10_600,
    },
    flag: ["--interval", "1m"],
    fromFlag: {
      intervalMs: 60_000,
      requestTimeoutMs: 10_000,
      writeTrustMs: 120_000,
      successionMs: 10_600,
    },
  },
  {
    variable: "AWS_NAT_ROUTER_TIMEOUT",
    envText: "250ms",
    fromEnv: { timeoutMs: 250 },
    flag: ["--timeout", "450ms"],
    fromFlag: { timeoutMs: 450 },
  },
  {
    variable: "AWS_NAT_ROUTER_PORT",
    envText: "8080",
    fromEnv: { port: 8080 },
    flag: ["--port", "3129"],
    fromFlag: { port: 3129 },
  },
  {
    variable: "AWS_NAT_ROUTER_PUBLIC",
    envText: "0",
    fromEnv: { public: false },
    flag: ["--public"],
    fromFlag: { public: true },
  },
  {
    variable: "AWS_NAT_ROUTER_PROBE_INTERVAL",
    envText: "2s",
    fromEnv: { probeIntervalMs: 2_000 },
    flag: ["--probe-interval", "3s"],
    fromFlag: { probeIntervalMs: 3_000 },
  },
  {
    variable: "AWS_NAT_ROUTER_PROBE_ATTEMPTS",
    envText: "3",
    fromEnv: { probeAttempts: 3 },
    flag: ["--probe-attempts", "1"],
    fromFlag: { probeAttempts: 1 },
  },
  {
    variable: "AWS_NAT_ROUTER_FALL",
    envText: "3",
    fromEnv: { fall: 3 },
    flag: ["--fall", "5"],
    fromFlag: { fall: 5 },
  },
  {
    variable: "AWS_NAT_ROUTER_RISE",
    envText: "4",
    fromEnv: { rise: 4 },
    flag: ["--rise", "6"],
    fromFlag: { rise: 6 },
  },
  {
    variable: "AWS_NAT_ROUTER_FAILBACK_DELAY",
    envText: "1m",
    fromEnv: { failbackDelayMs: 60_000 },
    flag: ["--failback-delay", "0s"],
    fromFlag: { failbackDelayMs: 0 },
  },
  {
    variable: "AWS_NAT_ROUTER_ONCE",
    envText: "no",
    fromEnv: { once: false },
    flag: ["--once"],
    fromFlag: { once: true },
  },
  {
    variable: "AWS_NAT_ROUTER_DRY_RUN",
    envText: "FALSE",
    fromEnv: { dryRun: false },
    flag: ["--dry-run"],
    fromFlag: { dryRun: true },
  },
  {
    variable: "AWS_NAT_ROUTER_RECOVERY",
    envText: "reboot",
    fromEnv: { recovery: "reboot" },
    flag: ["--recovery", "terminate"],
    fromFlag: { recovery: "terminate" },
  },
  {
    variable: "AWS_NAT_ROUTER_RECOVERY_AFTER",
    envText: "2m",
    fromEnv: { recovery: "reboot", recoveryAfterMs: 120_000 },
    flag: ["--recovery-after", "1h"],
    fromFlag: { recovery: "reboot", recoveryAfterMs: 3_600_000 },
    context: ["--recovery", "reboot"],
  },
  {
    variable: "AWS_NAT_ROUTER_FALLBACK_NAT_GATEWAY",
    envText: "nat-0123abcd",
    fromEnv: { fallbackNatGateway: { default: "nat-0123abcd", byZone: {} } },
    flag: ["--fallback-nat-gateway", "az1=nat-0456cdef"],
    fromFlag: { fallbackNatGateway: { default: undefined, byZone: { az1: "nat-0456cdef" } } },
  },
  {
    variable: "AWS_NAT_ROUTER_SELF_CHECK",
    envText: "false",
    fromEnv: { selfCheck: false },
    flag: ["--self-check"],
    fromFlag: { selfCheck: true },
  },
  {
    variable: "AWS_NAT_ROUTER_EGRESS_CHECK",
    envText: "example.com:443",
    fromEnv: { selfCheck: true, egressCheck: { hostname: "example.com", port: 443 } },
    flag: ["--egress-check", "[2606:4700::1111]:80"],
    fromFlag: { selfCheck: true, egressCheck: { hostname: "2606:4700::1111", port: 80 } },
    context: ["--self-check"],
  },
  {
    variable: "AWS_NAT_ROUTER_SERVE_HEALTH",
    envText: "8081",
    fromEnv: { serveHealth: 8081 },
    flag: ["--serve-health", "8082"],
    fromFlag: { serveHealth: 8082 },
  },
  {
    variable: "AWS_NAT_ROUTER_METRICS_LISTEN",
    envText: "127.0.0.1:9100",
    fromEnv: { metricsListen: { hostname: "127.0.0.1", port: 9100 } },
    flag: ["--metrics-listen", "0.0.0.0:9200"],
    fromFlag: { metricsListen: { hostname: "0.0.0.0", port: 9200 } },
  },
  {
    variable: "AWS_NAT_ROUTER_HEARTBEAT",
    envText: "10m",
    fromEnv: { heartbeatMs: 600_000 },
    flag: ["--heartbeat", "0"],
    fromFlag: { heartbeatMs: 0 },
  },
  {
    variable: "AWS_NAT_ROUTER_LOG_LEVEL",
    envText: "error",
    fromEnv: { logLevel: "error" },
    flag: ["--log-level", "debug"],
    fromFlag: { logLevel: "debug" },
  },
  {
    variable: "LOG_LEVEL",
    envText: "WARN",
    fromEnv: { logLevel: "warn" },
    flag: ["--log-level", "error"],
    fromFlag: { logLevel: "error" },
  },
  // The original tool's variables (so0k/aws-nat-router), kept for its deployments.
  {
    variable: "NAT_VPC_ID",
    envText: "vpc-0123456789abcdef0",
    fromEnv: { vpcId: "vpc-0123456789abcdef0" },
    flag: ["--vpc-id", "vpc-0123abcd"],
    fromFlag: { vpcId: "vpc-0123abcd" },
  },
  {
    variable: "NAT_CLUSTER_ID",
    envText: "blue",
    fromEnv: { clusterId: "blue" },
    flag: ["--cluster-id", "green"],
    fromFlag: { clusterId: "green" },
  },
  {
    variable: "NAT_INTERVAL",
    envText: "10s",
    fromEnv: {
      intervalMs: 10_000,
      requestTimeoutMs: 10_000,
      writeTrustMs: 20_000,
      successionMs: 10_600,
    },
    flag: ["--interval", "2s"],
    fromFlag: {
      intervalMs: 2_000,
      requestTimeoutMs: 2_000,
      writeTrustMs: 4_000,
      successionMs: 2_600,
    },
  },
  {
    variable: "NAT_EC2_ELECTION",
    envText: "true",
    fromEnv: { ec2Election: true },
    flag: ["--ec2-election=false"],
    fromFlag: { ec2Election: false },
  },
  {
    variable: "NAT_HC_PUBLIC",
    envText: "1",
    fromEnv: { public: true },
    flag: ["-public=f"],
    fromFlag: { public: false },
  },
  {
    variable: "NAT_HC_PORT",
    envText: "8080",
    fromEnv: { port: 8080 },
    flag: ["-p", "3129"],
    fromFlag: { port: 3129 },
  },
  {
    variable: "NAT_HC_TIMEOUT",
    envText: "50ms",
    fromEnv: { timeoutMs: 50 },
    flag: ["--timeout", "200ms"],
    fromFlag: { timeoutMs: 200 },
  },
  {
    variable: "AWS_NAT_ROUTER_OUTPUT",
    envText: "json",
    fromEnv: { command: "status", output: "json" },
    flag: ["--output", "table"],
    fromFlag: { command: "status", output: "table" },
    context: ["status"],
  },
];

/** The settings with a variable and no flag: the variable, a value there, the setting. */
const ENV_ONLY: readonly {
  variable: string;
  envText: string;
  fromEnv: Partial<Config>;
}[] = [
  {
    variable: "AWS_NAT_ROUTER_IP_FORWARD_PATH",
    envText: "/tmp/ip_forward",
    fromEnv: { ipForwardPath: "/tmp/ip_forward" },
  },
  {
    variable: "AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS",
    envText: "127.0.77.2",
    fromEnv: { serveHealthAddress: "127.0.77.2" },
  },
  {
    variable: "AWS_NAT_ROUTER_BOOTED_AT",
    envText: "2026-12-01T12:00:00Z",
    fromEnv: { bootedAt: "2026-12-01T12:00:00Z" },
  },
];

Deno.test("parseConfig() reads every flag from the environment, and a flag wins", async (t) => {
  await t.step("the tables below cover every variable parseConfig() reads", () => {
    assert.deepEqual(
      [...EVERY_FLAG, ...ENV_ONLY].map((row) => row.variable).sort(),
      [...ENV_NAMES].sort(),
    );
  });

  for (const row of EVERY_FLAG) {
    const base = row.fromEnv.vpcId !== undefined ? [] : VPC;
    await t.step(`parseConfig() reads ${row.variable}=${row.envText}`, () => {
      const config = configOf([...(row.context ?? []), ...base], { [row.variable]: row.envText });
      assert.deepEqual(config, expectedConfig(row.fromEnv));
    });
    await t.step(`parseConfig() prefers ${row.flag.join(" ")} over ${row.variable}`, () => {
      const config = configOf([...(row.context ?? []), ...base, ...row.flag], {
        [row.variable]: row.envText,
      });
      assert.deepEqual(config, expectedConfig(row.fromFlag));
    });
  }

  for (const row of ENV_ONLY) {
    await t.step(`parseConfig() reads ${row.variable}=${row.envText}, trimmed`, () => {
      const config = configOf(VPC, { [row.variable]: ` ${row.envText}\n` });
      assert.deepEqual(config, expectedConfig(row.fromEnv));
    });
    await t.step(`parseConfig() takes an empty ${row.variable} as unset`, () => {
      assert.deepEqual(configOf(VPC, { [row.variable]: " " }), DEFAULTS);
    });
    await t.step(`parseConfig() warns of no ${row.variable} and has no flag for it`, () => {
      const result = parseConfig(VPC, { [row.variable]: row.envText });
      assert.ok(result.ok && result.action === "config");
      assert.deepEqual(result.warnings, []);
      const flag = `--${row.variable.slice("AWS_NAT_ROUTER_".length).toLowerCase()}`
        .replaceAll("_", "-");
      assert.match(errorOf([...VPC, flag, row.envText]), /^Unknown flag/);
    });
  }

  const switches: readonly [string, boolean][] = [
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["Yes", true],
    ["false", false],
    ["False", false],
    ["0", false],
    ["no", false],
    ["NO", false],
  ];
  for (const [text, value] of switches) {
    await t.step(
      `parseConfig() reads the switch AWS_NAT_ROUTER_EC2_ELECTION=${text} as ${value}`,
      () => {
        assert.equal(configOf(VPC, { AWS_NAT_ROUTER_EC2_ELECTION: text }).ec2Election, value);
      },
    );
  }

  const levels: readonly [string, readonly string[], Env, string][] = [
    ["the default when nothing is set", [], {}, "info"],
    ["LOG_LEVEL over the default", [], { LOG_LEVEL: "debug" }, "debug"],
    [
      "AWS_NAT_ROUTER_LOG_LEVEL over LOG_LEVEL",
      [],
      { LOG_LEVEL: "debug", AWS_NAT_ROUTER_LOG_LEVEL: "error" },
      "error",
    ],
    [
      "--log-level over both variables",
      ["--log-level", "warn"],
      { LOG_LEVEL: "debug", AWS_NAT_ROUTER_LOG_LEVEL: "error" },
      "warn",
    ],
  ];
  for (const [name, args, env, level] of levels) {
    await t.step(`parseConfig() takes the log level from ${name}`, () => {
      assert.equal(configOf([...VPC, ...args], env).logLevel, level);
    });
  }
});

Deno.test("parseConfig() keeps the original tool's deployments working", async (t) => {
  await t.step("its variables drive a whole config, each under its new flag", () => {
    const config = configOf([], {
      NAT_VPC_ID: "vpc-0123abcd",
      NAT_CLUSTER_ID: "blue",
      NAT_INTERVAL: "10s",
      NAT_EC2_ELECTION: "true",
      NAT_HC_PUBLIC: "false",
      NAT_HC_PORT: "3129",
      NAT_HC_TIMEOUT: "50ms",
      LOG_LEVEL: "INFO",
    });
    assert.deepEqual(config, {
      ...DEFAULTS,
      clusterId: "blue",
      intervalMs: 10_000,
      requestTimeoutMs: 10_000,
      writeTrustMs: 20_000,
      successionMs: 10_600,
      ec2Election: true,
      port: 3129,
      timeoutMs: 50,
    });
  });

  await t.step("AWS_NAT_ROUTER_* wins over the original's variable", () => {
    const config = configOf([], {
      NAT_VPC_ID: "vpc-0123456789abcdef0",
      AWS_NAT_ROUTER_VPC_ID: "vpc-0123abcd",
      NAT_HC_PORT: "3129",
      AWS_NAT_ROUTER_PORT: "8080",
    });
    assert.equal(config.vpcId, "vpc-0123abcd");
    assert.equal(config.port, 8080);
  });

  const lines: readonly [string, readonly string[], Partial<Config>][] = [
    ["its short flags -l, -r and -p", [...VPC, "-l", "debug", "-r", "eu-west-1", "-p", "3129"], {
      logLevel: "debug",
      region: "eu-west-1",
      port: 3129,
    }],
    ["its one-dash long flags", ["-vpc-id", "vpc-0123abcd", "-cluster-id=blue", "-ec2-election"], {
      clusterId: "blue",
      ec2Election: true,
    }],
    ["-p=PORT and -l=LEVEL", [...VPC, "-p=3129", "-l=warn"], { port: 3129, logLevel: "warn" }],
    ["--ec2-election=true", [...VPC, "--ec2-election=true"], { ec2Election: true }],
    ["--public=false, as leaving it out", [...VPC, "--public=false"], {}],
    ["--dry-run=1 and -once=TRUE", [...VPC, "--dry-run=1", "-once=TRUE"], {
      dryRun: true,
      once: true,
    }],
  ];
  for (const [name, args, expected] of lines) {
    await t.step(`parseConfig() accepts ${name}`, () => {
      assert.deepEqual(configOf(args), expectedConfig(expected));
    });
  }

  await t.step("-help is help, as in the original", () => {
    assert.deepEqual(parseConfig(["-help"], {}), { ok: true, action: "help" });
  });

  await t.step("a value that looks like a one-dash flag is not rewritten", () => {
    // A value starting with "-" needs --flag=VALUE, as before: the error names the flag.
    assert.match(errorOf([...VPC, "--cluster-id", "-vpc-id"]), /^Missing a value for --cluster-id/);
  });

  await t.step("a switch with =true given twice is still a duplicate", () => {
    assert.match(errorOf([...VPC, "--once", "-once=true"]), /^Duplicate flag --once/);
  });

  for (const flag of ["--aws-access-key", "--aws-secret-key", "-aws-access-key"]) {
    for (const form of ["space", "equals"] as const) {
      const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
      const args = form === "space" ? [...VPC, flag, secret] : [...VPC, `${flag}=${secret}`];
      await t.step(`${flag} (${form}) is one line saying where credentials go, no value`, () => {
        const error = errorOf(args, { AWS_NAT_ROUTER_VPC_ID: "vpc-0123abcd" });
        assert.match(error, new RegExp(`^Flag ${flag} is not accepted: .*AWS_ACCESS_KEY_ID`));
        assert.ok(!error.includes(secret) && !error.includes("EXAMPLE"), "never echo the value");
        assert.doesNotMatch(error, /\n/);
      });
    }
  }

  const timeouts: readonly [string, readonly string[], Env, number, number][] = [
    [
      "--timeout 1s alone: the probe interval follows",
      [...VPC, "--timeout", "1s"],
      {},
      1_000,
      2_000,
    ],
    ["--timeout 2s alone", [...VPC, "--timeout", "2s"], {}, 2_000, 4_000],
    ["NAT_HC_TIMEOUT=2s alone", VPC, { NAT_HC_TIMEOUT: "2s" }, 2_000, 4_000],
    ["--timeout 1m alone, the longest", [...VPC, "--timeout", "1m"], {}, 60_000, 120_000],
    ["--timeout 500ms keeps the default", [...VPC, "--timeout", "500ms"], {}, 500, 600],
    [
      "a given --probe-interval is kept",
      [...VPC, "--timeout", "1s", "--probe-interval", "3s"],
      {},
      1_000,
      3_000,
    ],
  ];
  for (const [name, args, env, timeoutMs, probeIntervalMs] of timeouts) {
    await t.step(`parseConfig() derives the probe interval: ${name}`, () => {
      const result = parseConfig(args, env);
      assert.ok(result.ok && result.action === "config", JSON.stringify(result));
      assert.equal(result.config.timeoutMs, timeoutMs);
      assert.equal(result.config.probeIntervalMs, probeIntervalMs);
      const derived = result.warnings.filter((w) => w.startsWith("Derived --probe-interval"));
      assert.equal(derived.length, probeIntervalMs === 2 * timeoutMs && timeoutMs >= 600 ? 1 : 0);
    });
  }

  await t.step("the derivation says so in one line", () => {
    const result = parseConfig(VPC, { NAT_HC_TIMEOUT: "1s" });
    assert.ok(result.ok && result.action === "config");
    assert.deepEqual(result.warnings, [
      'Derived --probe-interval "2s" from --timeout (set by NAT_HC_TIMEOUT) "1s": the default "600ms" is not longer than the timeout; pass --probe-interval to choose it',
    ]);
  });
});

Deno.test("parseConfig() --help and --version", async (t) => {
  const cases: readonly [string, readonly string[], "help" | "version"][] = [
    ["--help", ["--help"], "help"],
    ["-h", ["-h"], "help"],
    ["--version", ["--version"], "version"],
    ["--help among bad flags", ["--bogus", "--port", "0", "--help"], "help"],
    ["--help and --version together", ["--version", "--help"], "help"],
    ["--version with the status subcommand", ["status", "--version"], "version"],
  ];
  for (const [name, args, action] of cases) {
    await t.step(`parseConfig() answers ${name} with ${action}, without needing --vpc-id`, () => {
      assert.deepEqual(parseConfig(args, {}), { ok: true, action });
    });
  }

  await t.step("parseConfig() takes --help after -- as an argument, not as a request", () => {
    assert.match(errorOf([...VPC, "--", "--help"]), /Unexpected argument "--help"/);
  });
});

Deno.test("helpText()", async (t) => {
  const text = helpText();
  await t.step("helpText() names every flag with its variable", () => {
    for (const row of EVERY_FLAG) {
      const flag = (row.flag[0] ?? "").split("=")[0] ?? "";
      assert.ok(text.includes(flag), `missing ${flag}`);
      assert.ok(text.includes(row.variable), `missing ${row.variable}`);
    }
    assert.match(text, /-h, --help/);
    assert.match(text, /--version/);
  });

  await t.step("helpText() shows the defaults", () => {
    for (const line of ["Default: squid", "Default: 100ms", "Default: 5s", "Default: 3128"]) {
      assert.ok(text.includes(line), `missing ${line}`);
    }
    assert.match(text, /--vpc-id ID +VPC[^\n]*\n +Required; env: AWS_NAT_ROUTER_VPC_ID/);
  });

  await t.step("helpText() mentions the status subcommand and where credentials come from", () => {
    assert.match(text, /aws-nat-router status --vpc-id ID/);
    assert.match(text, /credentials come from the AWS SDK's default chain/);
    assert.match(text, /never taken on the command line/);
  });

  await t.step("helpText() fits in 100 columns", () => {
    for (const line of text.split("\n")) assert.ok(line.length <= 100, `too long: ${line}`);
  });

  await t.step("helpText() cannot show a secret: --help ignores the environment", () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const result = parseConfig(["--help"], { AWS_SECRET_ACCESS_KEY: secret });
    assert.deepEqual(result, { ok: true, action: "help" });
    assert.ok(!helpText().includes(secret));
  });
});

/** Words that start the fix in every error message. */
const FIX_HINT =
  /\b(expected|e\.g\.|did you mean|run|add|drop|remove|pass|put|give|lower|raise|leave|set|use|shorten)(?=[\s.:,?]|$)/;

Deno.test("parseConfig() refuses bad input with one line that says what to do", async (t) => {
  await t.step("the shared table has at least 35 invalid invocations", () => {
    assert.ok(BAD_INPUT_CASES.length >= 35, `only ${BAD_INPUT_CASES.length}`);
  });

  for (const { name, args, env, mentions } of BAD_INPUT_CASES) {
    await t.step(`parseConfig() refuses ${name}`, () => {
      const error = errorOf(args, { ...env });
      assert.doesNotMatch(error, /[\n\r\u2028\u2029\u0085]/, "the error must be one line");
      assert.ok(error.includes(mentions), `${JSON.stringify(error)} does not name ${mentions}`);
      assert.match(error, /^[A-Z]/, "sentence case");
      assert.match(error, /: /, "details after a colon");
      assert.doesNotMatch(error, /\.$/, "no trailing period");
      assert.match(error, FIX_HINT, `${JSON.stringify(error)} has no fix`);
      assert.ok(error.length <= 300, `too long: ${error}`);
    });
  }
});

Deno.test("parseConfig() error messages", async (t) => {
  const cases: readonly [string, readonly string[], Env, string][] = [
    [
      "a missing --vpc-id says how to pass it",
      [],
      {},
      "Missing --vpc-id: pass the VPC to manage, e.g. --vpc-id vpc-0123abcd (or set AWS_NAT_ROUTER_VPC_ID)",
    ],
    [
      "a misspelled flag suggests the closest one",
      ["--vpcid", "vpc-0123abcd"],
      {},
      'Unknown flag "--vpcid": did you mean --vpc-id? Or run aws-nat-router --help to list every flag',
    ],
    [
      "an unknown flag with no close match points at --help",
      [...VPC, "--colour"],
      {},
      'Unknown flag "--colour": run aws-nat-router --help to list every flag',
    ],
    [
      "a bad duration quotes it and gives examples",
      [...VPC, "--interval", "soon"],
      {},
      'Cannot parse --interval "soon": expected a duration such as 500ms or 5s',
    ],
    [
      "a duration out of range gives the range",
      [...VPC, "--interval", "0s"],
      {},
      'Invalid --interval "0s": expected a duration from 1s to 24h, e.g. 5s',
    ],
    [
      "a bad variable names the variable and its flag",
      VPC,
      { AWS_NAT_ROUTER_PORT: "abc" },
      'Cannot parse AWS_NAT_ROUTER_PORT "abc" for --port: expected a whole number from 1 to 65535, e.g. 3128',
    ],
    [
      "a bad switch variable lists the accepted words",
      VPC,
      { AWS_NAT_ROUTER_EC2_ELECTION: "maybe" },
      'Cannot parse AWS_NAT_ROUTER_EC2_ELECTION "maybe" for --ec2-election: expected true or false (or 1/0, yes/no)',
    ],
    [
      "a timeout as long as a given probe interval names both",
      [...VPC, "--timeout", "2s", "--probe-interval", "2s"],
      {},
      'Conflicting --timeout "2s" and --probe-interval "2s": the timeout must be shorter than the probe interval; lower --timeout or raise --probe-interval',
    ],
    [
      "the original's --aws-access-key says where credentials go",
      [...VPC, "--aws-access-key", "AKIAEXAMPLEKEY000000"],
      {},
      "Flag --aws-access-key is not accepted: credentials never go on the command line, where ps and the journal show them; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the service's environment, use AWS_PROFILE, or attach an instance role",
    ],
    [
      "the original's --aws-secret-key says the same",
      ["--aws-secret-key=wJalrXUtnFEMI/EXAMPLEKEY", ...VPC],
      {},
      "Flag --aws-secret-key is not accepted: credentials never go on the command line, where ps and the journal show them; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the service's environment, use AWS_PROFILE, or attach an instance role",
    ],
    [
      "a duplicate flag shows both values",
      [...VPC, "--port", "1", "--port", "2"],
      {},
      'Duplicate flag --port: given twice ("1" and "2"); pass it once',
    ],
    [
      "a stray word after a switch says the switch takes no value",
      [...VPC, "--dry-run", "yes"],
      {},
      'Unexpected argument "yes" after --dry-run: --dry-run is a switch and takes no value; drop "yes" (or set AWS_NAT_ROUTER_DRY_RUN in the environment)',
    ],
    [
      "a line break in a value is escaped",
      [...VPC, "--cluster-id", "a\nb"],
      {},
      'Invalid --cluster-id "a\\nb": use only letters, digits, spaces and _ . : / = + - @ (what a tag value allows)',
    ],
  ];
  for (const [name, args, env, expected] of cases) {
    await t.step(`parseConfig() error: ${name}`, () => {
      assert.equal(errorOf(args, env), expected);
    });
  }
});

Deno.test("parseConfig() on arbitrary input", async (t) => {
  const fragments = [
    "--vpc-id",
    "vpc-0123abcd",
    "status",
    "--port",
    "--once",
    "--timeout",
    "-1s",
    "5s",
    "--",
    "=",
    "--output",
    "json",
    "--help",
    "\n",
    "--metrics-listen",
    "[::1]:9100",
    "--fallback-nat-gateway",
    "a=nat-0123abcd",
  ];
  const argument = fc.oneof(fc.constantFrom(...fragments), fc.string({ maxLength: 12 }));
  await t.step("parseConfig() never throws, and its errors are always one line", () => {
    fc.assert(
      fc.property(
        fc.array(argument, { maxLength: 8 }),
        fc.dictionary(
          fc.constantFrom(...ENV_NAMES),
          fc.oneof(fc.constantFrom(...fragments), fc.string()),
        ),
        (args, env) => {
          const result = parseConfig(args, env);
          if (!result.ok) {
            assert.doesNotMatch(result.error, /[\n\r\u2028\u2029\u0085]/);
            assert.match(result.error, /^[A-Z][^]*: /);
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

Deno.test("deriveTimings()", async (t) => {
  const cases: readonly [string, number, number][] = [
    ["at least 2s however short --interval is", 1_000, 2_000],
    ["--interval itself between 2s and 10s", 5_000, 5_000],
    ["exactly 2s at --interval 2s", 2_000, 2_000],
    ["exactly 10s at --interval 10s", 10_000, 10_000],
    ["at most 10s however long --interval is", 3_600_000, 10_000],
  ];
  for (const [name, intervalMs, requestTimeoutMs] of cases) {
    await t.step(`deriveTimings() makes the EC2 request timeout ${name}`, () => {
      assert.equal(
        deriveTimings({ intervalMs, probeIntervalMs: 1000, failbackDelayMs: 30_000 })
          .requestTimeoutMs,
        requestTimeoutMs,
      );
    });
  }

  for (const intervalMs of [1_000, 5_000, 86_400_000]) {
    await t.step(
      `deriveTimings() trusts the leader's writes for two intervals of ${intervalMs} ms`,
      () => {
        assert.equal(
          deriveTimings({ intervalMs, probeIntervalMs: 1000, failbackDelayMs: 30_000 })
            .writeTrustMs,
          2 * intervalMs,
        );
      },
    );
  }

  const timings = { intervalMs: 5_000, probeIntervalMs: 1_000 };
  await t.step("deriveTimings() backs off a suspected split at least 4 minutes", () => {
    assert.equal(deriveTimings({ ...timings, failbackDelayMs: 0 }).splitBackoffMs, 240_000);
    assert.equal(deriveTimings({ ...timings, failbackDelayMs: 30_000 }).splitBackoffMs, 240_000);
  });
  await t.step("deriveTimings() backs off a suspected split eight failback delays", () => {
    assert.equal(deriveTimings({ ...timings, failbackDelayMs: 60_000 }).splitBackoffMs, 480_000);
  });
  await t.step("deriveTimings() lets a successor act after a request timeout and a probe", () => {
    assert.equal(deriveTimings({ ...timings, failbackDelayMs: 0 }).successionMs, 6_000);
    assert.equal(
      deriveTimings({ intervalMs: 60_000, probeIntervalMs: 2_000, failbackDelayMs: 0 })
        .successionMs,
      12_000,
    );
  });

  await t.step("parseConfig() fills both from --interval, whatever sets it", () => {
    const fromFlag = configOf([...VPC, "--interval", "1s"]);
    assert.deepEqual(
      [fromFlag.requestTimeoutMs, fromFlag.writeTrustMs],
      [2_000, 2_000],
    );
    const fromEnv = configOf(VPC, { AWS_NAT_ROUTER_INTERVAL: "30s" });
    assert.deepEqual([fromEnv.requestTimeoutMs, fromEnv.writeTrustMs], [10_000, 60_000]);
  });
});

Deno.test("parseConfig() warns when a failback delay is too short to tell a split", () => {
  const base = ["--vpc-id", "vpc-0123abcd"];
  const warned = (args: string[]) => {
    const parsed = parseConfig([...base, ...args], {});
    assert.ok(parsed.ok && parsed.action === "config");
    return parsed.warnings.filter((w) => w.includes("--failback-delay"));
  };
  assert.deepEqual(warned([]), [], "defaults: 30s against (2 + 1) x 600ms");
  const [line] = warned(["--failback-delay", "1s"]);
  assert.match(
    line ?? "",
    /^--failback-delay 1s is shorter than .*: .*use --failback-delay 1\.8s or more$/,
  );
  assert.deepEqual(warned(["--failback-delay", "2s"]), []);
});
