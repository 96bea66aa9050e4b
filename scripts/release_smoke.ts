// deno-lint-ignore-file no-console
// (a check script: its console output is its interface)
/**
 * @module Runs a release binary the way the release workflow checks it before publishing:
 * `--version` prints deno.json's version, `--help` lists the flags, and `--once --dry-run`
 * against a small simulated VPC (2 zones, one NAT instance each, 2 tagged route tables per
 * zone, no default routes) plans one same-zone route per table, exits 0 and writes nothing.
 * One line per check on stdout; exit 0 when all pass, 1 otherwise, 2 on bad arguments.
 *
 *   deno task smoke [--hosts 127.0.77] [-- <command> [<args>...]]
 *
 * `<command>` is the binary, or anything that runs the program; by default the program from
 * source under its audited permission set (`deno run -P main.ts`), allowed to reach the hosts.
 * `--hosts` is the first three octets of the addresses the simulator listens on: the EC2
 * endpoint at `.1`, the NAT instances at `.11` and `.12`. A compiled binary reaches only what
 * its baked permission set allows (VPC ranges such as 10.0.0.0/8, not loopback), so the
 * release workflow runs this script inside a network namespace of its own in which
 * 10.255.0.0/24 is a loopback address; nothing outside that namespace can be reached from it.
 */
import { parseArgs } from "node:util";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { VERSION } from "../lib/core/version.ts";
import { Ec2Server } from "../tests/sim/ec2_server.ts";
import { SimVpc, TEST_CREDENTIALS } from "../tests/sim/vpc.ts";

const USAGE = "usage: deno task smoke [--hosts A.B.C] [-- <command> [<args>...]]";
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CLUSTER = "squid";
const RUN_TIMEOUT_MS = 60_000;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command` with only `env` (nothing of this host's AWS settings); killed after a minute. */
async function run(command: readonly string[], env: Record<string, string>): Promise<Ran> {
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  try {
    const { code, stdout, stderr } = await child.output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code, stdout: decode(stdout), stderr: decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** What a process needs to start at all (a `deno run` stand-in needs HOME and its cache). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The key=value fields of a log line. */
function fields(line: string): Record<string, string> {
  return Object.fromEntries(
    line.split(" ").flatMap((word) => {
      const eq = word.indexOf("=");
      return eq > 0 ? [[word.slice(0, eq), word.slice(eq + 1)]] : [];
    }),
  );
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { hosts: { type: "string", default: "127.0.77" } },
    });
  } catch (error) {
    console.error(`release_smoke.ts: ${(error as Error).message}: ${USAGE}`);
    return 2;
  }
  const hosts = parsed.values.hosts;
  const command = parsed.positionals.length > 0 ? parsed.positionals : [
    Deno.execPath(),
    ...["run", "-P", `--allow-net=${hosts}.0/24`, "--no-prompt", "--quiet", MAIN],
  ];
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hosts)) {
    console.error(
      `release_smoke.ts: Invalid --hosts "${hosts}": expected three octets such as 10.255.0`,
    );
    return 2;
  }

  let failures = 0;
  const check = (ok: boolean, what: string, detail: string, output = "") => {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}: ${detail}`);
    if (!ok) {
      failures++;
      if (output.trim() !== "") console.log(output.trimEnd().replace(/^/gm, "     | "));
    }
  };

  const version = await run([...command, "--version"], baseEnv());
  const expected = `aws-nat-router ${VERSION}`;
  check(
    version.code === 0 && version.stdout.trim() === expected,
    "--version",
    `exit ${version.code}, printed "${version.stdout.trim()}" (expected "${expected}")`,
    version.stderr,
  );

  const help = await run([...command, "--help"], baseEnv());
  const flags = ["--vpc-id", "--once", "--dry-run", "--ec2-election"];
  const missing = flags.filter((flag) => !help.stdout.includes(flag));
  check(
    help.code === 0 && missing.length === 0,
    "--help",
    `exit ${help.code}, ${help.stdout.split("\n").length} lines` +
      (missing.length > 0 ? `, lacks ${missing.join(" ")}` : ""),
    help.stderr,
  );

  const vpc = await SimVpc.start({ zoneCount: 2 });
  const endpoint = new Ec2Server(vpc.ec2, { hostname: `${hosts}.1` });
  try {
    const tables = new Map<string, string>(); // route table id → the NAT it must get
    vpc.zones.forEach((zone, i) => {
      const tags = { [TAG_CLUSTER_ID]: CLUSTER, [TAG_ZONE]: zone };
      const nat = vpc.addInstance({ zone, tags, privateIp: `${hosts}.${11 + i}` });
      for (let n = 0; n < 2; n++) {
        const subnetIds = [vpc.ec2.addSubnet(vpc.vpcId, zone)];
        tables.set(vpc.addRouteTable({ tags, subnetIds }), nat);
      }
    });
    const env = {
      ...baseEnv(),
      AWS_REGION: vpc.region,
      AWS_ENDPOINT_URL_EC2: endpoint.endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const routerArgs = [
      ...["--vpc-id", vpc.vpcId, "--cluster-id", CLUSTER, "--port", String(vpc.healthPort)],
      ...["--once", "--dry-run", "--log-level", "info"],
    ];
    const dryRun = await run([...command, ...routerArgs], env);
    const planned = dryRun.stderr.split("\n").filter((line) => / route\.planned /.test(line))
      .map(fields);
    const wrong = [...tables].filter(([table, nat]) =>
      !planned.some((f) => f.route_table_id === table && f.to === nat && f.dry_run === "true")
    );
    const writes = endpoint.calls.filter((call) => !call.action.startsWith("Describe"));
    check(
      dryRun.code === 0 && wrong.length === 0 && writes.length === 0,
      "--once --dry-run",
      `exit ${dryRun.code}, ${planned.length} route.planned lines for ${tables.size} tables` +
        ` (${wrong.length} missing or wrong), ${endpoint.calls.length} EC2 calls of which` +
        ` ${writes.length} not Describe, EC2 endpoint ${endpoint.endpoint}`,
      dryRun.stderr,
    );
  } finally {
    await endpoint.close();
    await vpc.close();
  }
  console.log(failures === 0 ? "release smoke check passed" : `${failures} checks failed`);
  return failures === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
