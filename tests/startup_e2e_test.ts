/**
 * End-to-end, an operator's first runs: the real program under its audited permission set
 * against the simulated VPC, without a region or without the metadata service. A `--once`
 * run gives up within its documented deadline with exit 1 and one line naming what it could
 * not get and the fix; a stop before its cycle is a failure too; the daemon keeps asking,
 * with the fix on every line; a region in the selected AWS profile is used before the
 * metadata service; and the daemon's heartbeat shows it alive while nothing changes.
 */
import assert from "node:assert/strict";
import { FAST, misrouting, routerArgs } from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
import { SimVpc, type StandardVpc } from "./sim/vpc.ts";
import { onceDeadlineMs, REGION_FIX } from "../lib/core/startup.ts";
import { parseConfig } from "../lib/core/config.ts";

/** A loopback port nothing listens on: the metadata service is unreachable there. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The router's environment with keys but no region anywhere: no `AWS_REGION`, an AWS config
 * file that does not exist (inside the permission set), metadata on a closed port.
 */
function noRegionEnv(vpc: SimVpc, extra: Record<string, string> = {}): Record<string, string> {
  const { AWS_REGION: _region, ...env } = simEnv(
    { ec2: vpc.ec2Endpoint, imds: `http://127.0.0.1:${closedPort()}` },
    vpc.routerEnv(),
  );
  return { ...env, AWS_CONFIG_FILE: "/root/.aws/config-absent-for-this-test", ...extra };
}

/** Milliseconds between the timestamps of two log lines. */
function between(first: string, last: string): number {
  const time = (line: string) => Date.parse(line.split(" ")[0] ?? "");
  return time(last) - time(first);
}

const quoted = (text: string) => JSON.stringify(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// The deadline at the default timing (whatever the defaults of --fall, --rise and
// --probe-interval are).
const DEFAULTS = parseConfig(["--vpc-id", "vpc-0123abcd"], {});
assert.ok(DEFAULTS.ok && DEFAULTS.action === "config");
const DEADLINE_MS = onceDeadlineMs(DEFAULTS.config);

Deno.test("router --once without a region or without its identity gives up within its deadline", async (t) => {
  const vpc = await SimVpc.standard();
  try {
    // Both runs at once: each waits out the whole deadline.
    const [noRegion, noIdentity] = await Promise.all([
      runRouter({ args: routerArgs(vpc, ["--once"]), env: noRegionEnv(vpc) }),
      runRouter({
        args: routerArgs(vpc, ["--once", "--ec2-election"]),
        env: noRegionEnv(vpc, { AWS_REGION: vpc.region }),
      }),
    ]);

    await t.step(
      "without a region: exit 1, the last error line names the region and the fix",
      () => {
        const log = noRegion.stderr.join("\n");
        assert.equal(noRegion.code, 1, log);
        const gaveUp = noRegion.stderr.find((l) => / ERROR once\.gave_up /.test(l));
        assert.ok(gaveUp, log);
        assert.match(
          gaveUp,
          new RegExp(
            `waiting_for=region after_s=${DEADLINE_MS / 1000} error=".*connection refused by ` +
              `127\\.0\\.0\\.1:\\d+" fix=${quoted(REGION_FIX)}$`,
          ),
        );
        assert.match(REGION_FIX, /^pass --region or set AWS_REGION/);
        const started = noRegion.stderr.find((l) => / INFO router\.started /.test(l)) ?? "";
        const waited = between(started, gaveUp);
        assert.ok(waited <= DEADLINE_MS + 2_000, `gave up ${waited}ms after the start`);
        assert.ok(waited >= DEADLINE_MS - 1_000, `gave up early: ${waited}ms`);
        assert.match(noRegion.stderr.at(-1) ?? "", /INFO router\.stopped ok=false$/);
      },
    );

    await t.step("without a region: every retry already names the fix", () => {
      const failed = noRegion.stderr.filter((l) => / ERROR region\.failed /.test(l));
      assert.ok(failed.length >= 3, noRegion.stderr.join("\n"));
      for (const line of failed) {
        assert.ok(line.endsWith(`fix=${JSON.stringify(REGION_FIX)}`), line);
      }
    });

    await t.step(
      "with --ec2-election and no metadata: exit 1 naming the identity and the fix",
      () => {
        const log = noIdentity.stderr.join("\n");
        assert.equal(noIdentity.code, 1, log);
        const gaveUp = noIdentity.stderr.find((l) => / ERROR once\.gave_up /.test(l));
        assert.ok(gaveUp, log);
        assert.match(
          gaveUp,
          new RegExp(
            `waiting_for=identity after_s=${DEADLINE_MS / 1000} error=".*instance metadata ` +
              `service.*" fix="run it on an EC2 instance whose metadata service answers IMDSv2 ` +
              `.*or drop --ec2-election"$`,
          ),
        );
      },
    );

    await t.step("nothing reached EC2", () => {
      assert.deepEqual(vpc.ec2Server.calls, []);
    });
  } finally {
    await vpc.close();
  }
});

Deno.test("router stopped while it waits for a region: --once exits 1, the daemon 0", async (t) => {
  const vpc = await SimVpc.standard();
  try {
    await t.step("--once: a SIGTERM before its cycle is a failure (exit 1)", async () => {
      const router = startRouter({ args: routerArgs(vpc, ["--once"]), env: noRegionEnv(vpc) });
      await router.waitFor(/ERROR region\.failed /);
      assert.equal(await router.stop(), 1, router.lines.join("\n"));
      assert.match(router.lines.at(-1) ?? "", /INFO router\.stopped ok=false cycles=0$/);
      assert.deepEqual(router.grep(/once\.gave_up/), []);
    });

    await t.step(
      "the daemon keeps asking, with the fix on every line; SIGTERM exits 0",
      async () => {
        const router = startRouter({ args: routerArgs(vpc, FAST), env: noRegionEnv(vpc) });
        await router.waitFor(/ERROR region\.failed .* retry_in_s=2 /, 20_000);
        for (const line of router.grep(/region\.failed/)) {
          assert.ok(line.endsWith(`fix=${JSON.stringify(REGION_FIX)}`), line);
        }
        assert.equal(await router.stop(), 0, router.lines.join("\n"));
        assert.match(router.lines.at(-1) ?? "", /INFO router\.stopped ok=true cycles=0$/);
      },
    );
    assert.deepEqual(vpc.ec2Server.calls, []);
  } finally {
    await vpc.close();
  }
});

Deno.test("router takes its region from the selected AWS profile, before the metadata service", async (t) => {
  const vpc = await SimVpc.standard();
  const dir = await Deno.makeTempDir({ prefix: "aws-config-" });
  const config = `${dir}/config`;
  try {
    await Deno.writeTextFile(
      config,
      "[default]\nregion = us-west-2\n\n[profile ops]\n# the NATs' region\nregion = eu-west-3\n",
    );
    const run = (extra: Record<string, string>) =>
      runRouter({
        args: routerArgs(vpc, ["--once"]),
        env: noRegionEnv(vpc, { AWS_CONFIG_FILE: config, ...extra }),
        flags: [`--allow-read=${config}`],
      });

    await t.step("AWS_PROFILE=ops: the region of [profile ops], and the cycle runs", async () => {
      const { code, stderr } = await run({ AWS_PROFILE: "ops" });
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(
        stderr.some((l) => / INFO region\.resolved region=eu-west-3 source=profile$/.test(l)),
      );
      assert.deepEqual(stderr.filter((l) => /region\.failed|metadata/.test(l)), []);
      assert.equal(misrouting(vpc, vpc.fleet.natIds), undefined, "routes were allocated");
    });

    await t.step("no AWS_PROFILE: the region of [default]", async () => {
      const { code, stderr } = await run({});
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(
        stderr.some((l) => / INFO region\.resolved region=us-west-2 source=profile$/.test(l)),
      );
    });

    await t.step("AWS_REGION wins over the profile", async () => {
      const { code, stderr } = await run({ AWS_PROFILE: "ops", AWS_REGION: "ap-south-1" });
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(
        stderr.some((l) => / INFO region\.resolved region=ap-south-1 source=environment$/.test(l)),
      );
    });

    await t.step("a malformed region in the profile is bad input: exit 2, one line", async () => {
      await Deno.writeTextFile(config, "[profile ops]\nregion = Paris\n");
      const { code, stderr } = await run({ AWS_PROFILE: "ops" });
      assert.equal(code, 2, stderr.join("\n"));
      assert.deepEqual(stderr, [
        `aws-nat-router: Cannot parse region "Paris" of profile "ops" in ${config}: expected a ` +
        "region such as us-east-1; fix the file, or pass --region",
      ]);
    });

    await t.step(
      "a config file outside the permission set: a warning, then the metadata service",
      async () => {
        const { code, stderr } = await runRouter({
          args: routerArgs(vpc, ["--once", "--region", "us-east-1"]),
          env: noRegionEnv(vpc, { AWS_CONFIG_FILE: config }),
        });
        assert.equal(code, 0, "with --region the file is never read: " + stderr.join("\n"));
        assert.deepEqual(stderr.filter((l) => /AWS config file/.test(l)), []);
        const router = startRouter({
          args: routerArgs(vpc, ["--once"]),
          env: noRegionEnv(vpc, { AWS_CONFIG_FILE: config }),
        });
        try {
          await router.waitFor(
            new RegExp(
              `WARN config\\.warning warning="Ignored the AWS config file: read access to ` +
                `\\\\"${config.replaceAll(".", "\\.")}\\\\" is outside the permission set; move ` +
                `the file under /root/\\.aws, or add it to the \\\\"default\\\\" permission set`,
            ),
          );
          await router.waitFor(/ERROR region\.failed /);
        } finally {
          assert.equal(await router.stop(), 1);
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await vpc.close();
  }
});

Deno.test("router --heartbeat logs one line per period while nothing changes", async () => {
  const vpc: StandardVpc = await SimVpc.standard();
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--heartbeat", "1s"]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  try {
    await router.waitFor(/INFO router\.ready /);
    const nats = vpc.fleet.natIds.length;
    const tables = vpc.fleet.routeTableIds.length;
    const beat = new RegExp(
      `INFO router\\.heartbeat leader=${vpc.fleet.natIds[0]} nat_instances=${nats} ` +
        `healthy_nats=${nats} route_tables=${tables} tables_on_target=${tables} ` +
        `last_ok_cycle=\\S+Z last_ok_cycle_age_s=\\d+$`,
    );
    await router.waitFor(beat);
    // Two more lines, a period apart, while nothing changes.
    const seen = router.grep(beat).length;
    const until = Date.now() + 10_000;
    while (router.grep(beat).length < seen + 2 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const beats = router.grep(beat);
    assert.ok(beats.length >= seen + 2, router.lines.slice(-10).join("\n"));
    assert.deepEqual(
      router.grep(/route\.(replaced|created)/).length,
      tables,
      "one write per table",
    );
  } finally {
    assert.equal(await router.stop(), 0, router.lines.slice(-5).join("\n"));
    await vpc.close();
  }
});
