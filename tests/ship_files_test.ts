/**
 * @module Checks the shipped files that are not code: the systemd unit (directives, and
 * `systemd-analyze verify` when available), the shell scripts (shellcheck when available),
 * the GitHub workflows, and the IAM policies (JSON and Terraform).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string): Promise<string> => Deno.readTextFile(`${ROOT}/${path}`);
const DENO_VERSION = "2.9.6";
const TAG_CONDITION = { StringEquals: { "ec2:ResourceTag/aws-nat-router/id": "squid" } };

/** `Section.Key` → values, in order; continuation lines joined, comments dropped. */
function parseUnit(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  let section = "";
  const lines = text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim());
  for (const line of lines) {
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `unit line is neither a section nor Key=value: ${line}`);
    const key = `${section}.${line.slice(0, eq)}`;
    directives.set(key, [...(directives.get(key) ?? []), line.slice(eq + 1).replace(/\s+/g, " ")]);
  }
  return directives;
}

async function which(program: string): Promise<string | undefined> {
  const { code, stdout } = await new Deno.Command("sh", {
    args: ["-c", `command -v "$0"`, program],
    stdout: "piped",
    stderr: "null",
  }).output();
  return code === 0 ? new TextDecoder().decode(stdout).trim() : undefined;
}

async function run(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(program, { args, env }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, output: decode(stdout) + decode(stderr) };
}

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** Every `uses:` of a workflow, from steps and from reusable-workflow jobs. */
function usesOf(workflow: Yaml): string[] {
  return Object.values<Yaml>(workflow.jobs).flatMap((job) => [
    ...(job.uses ? [job.uses] : []),
    ...(job.steps ?? []).flatMap((step: Yaml) => (step.uses ? [step.uses] : [])),
  ]);
}

function runsOf(job: Yaml): string {
  return (job.steps ?? []).map((step: Yaml) => step.run ?? "").join("\n");
}

const SHELL_SCRIPTS = [
  "scripts/install.sh",
  "scripts/fetch-release.sh",
  "scripts/stamp-release.sh",
];
const SYSTEMD_ANALYZE = await which("systemd-analyze");
const SHELLCHECK = await which("shellcheck");
const TERRAFORM = await which("terraform");

Deno.test("scripts/aws-nat-router.service", async (t) => {
  const text = await read("scripts/aws-nat-router.service");
  const unit = parseUnit(text);
  const one = (key: string) => {
    const values = unit.get(key);
    assert.equal(values?.length, 1, `expected exactly one ${key}=, found ${values?.length ?? 0}`);
    return values![0]!;
  };

  await t.step("it keeps the original unit's ordering, restart policy and log level", () => {
    assert.equal(one("Unit.Description"), "AWS NAT Router");
    assert.equal(one("Unit.Requires"), "network-online.target");
    assert.equal(one("Unit.After"), "network-online.target");
    assert.equal(one("Service.Restart"), "always");
    assert.equal(one("Service.RestartSec"), "10");
    assert.ok(Number(one("Service.TimeoutStartSec")) >= 20, "TimeoutStartSec below the original");
    assert.ok(unit.get("Service.Environment")?.includes("LOG_LEVEL=INFO"));
    assert.equal(one("Install.WantedBy"), "multi-user.target");
  });

  await t.step("its Documentation= is this project, stamped in by the release", () => {
    // scripts/stamp-release.sh replaces the placeholder with GITHUB_REPOSITORY.
    assert.equal(one("Unit.Documentation"), "https://github.com/@RELEASE_REPO@");
    assert.doesNotMatch(text, /so0k/, "the unit must not point at the original tool");
  });

  await t.step(
    "it runs the router with the original flags but --timeout, VPC and cluster from the env file",
    () => {
      assert.equal(one("Service.EnvironmentFile"), "/etc/aws-nat-router/env");
      assert.equal(
        one("Service.ExecStart"),
        "/usr/local/bin/aws-nat-router --vpc-id ${VPC_ID} --cluster-id ${CLUSTER_ID} " +
          "--ec2-election --interval 5s",
      );
      assert.ok(unit.get("Service.Environment")?.includes("CLUSTER_ID=squid"));
      assert.match(unit.get("Service.Environment")!.join(" "), /RELEASE_TAG=v\d+\.\d+\.\d+/);
    },
  );

  await t.step("it fetches and verifies the release before start, outside the sandbox only", () => {
    assert.equal(
      one("Service.ExecStartPre"),
      "+/usr/local/libexec/aws-nat-router/fetch-release.sh",
    );
  });

  await t.step("it hardens the service without breaking V8's JIT or outbound connections", () => {
    const expected: Record<string, string> = {
      User: "root",
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "tmpfs",
      BindReadOnlyPaths: "-/root/.aws /proc/sys/net/ipv4/ip_forward:/run/aws-nat-router/ip_forward",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectKernelLogs: "yes",
      ProtectControlGroups: "yes",
      ProtectHostname: "yes",
      ProtectClock: "yes",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
      RestrictNamespaces: "yes",
      RestrictRealtime: "yes",
      RestrictSUIDSGID: "yes",
      LockPersonality: "yes",
      MemoryDenyWriteExecute: "no",
      SystemCallArchitectures: "native",
      SystemCallFilter: "@system-service @pkey",
      SystemCallErrorNumber: "EPERM",
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
      UMask: "0077",
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(one(`Service.${key}`), value, `Service.${key}`);
    }
    assert.equal(unit.get("Service.ReadWritePaths"), undefined, "the daemon must not write files");
  });

  await t.step({
    name: SYSTEMD_ANALYZE
      ? "systemd-analyze verify finds nothing wrong with it"
      : "systemd-analyze verify accepts it (skipped: systemd-analyze is not installed)",
    ignore: SYSTEMD_ANALYZE === undefined,
    fn: async () => {
      // Verify inside a scratch root that has the unit's executables and the system's
      // units (network-online.target), so every finding about this unit is real. verify
      // exits 0 even for unknown keys or bad values, so any output line naming the unit
      // fails the test; lines about the distribution's own units are not ours to judge.
      const root = await Deno.makeTempDir({ prefix: "ship_unit_" });
      try {
        const unitDir = `${root}/etc/systemd/system`;
        for (const dir of [unitDir, `${root}/usr/lib/systemd`]) {
          await Deno.mkdir(dir, { recursive: true });
        }
        assert.equal(
          (await run("cp", ["-a", "/usr/lib/systemd/system", `${root}/usr/lib/systemd/`])).code,
          0,
        );
        await Deno.writeTextFile(`${unitDir}/aws-nat-router.service`, text);
        for (
          const exe of [
            "/usr/local/bin/aws-nat-router",
            "/usr/local/libexec/aws-nat-router/fetch-release.sh",
          ]
        ) {
          await Deno.mkdir(`${root}${exe.replace(/\/[^/]+$/, "")}`, { recursive: true });
          await Deno.writeTextFile(`${root}${exe}`, "#!/bin/sh\n", { mode: 0o755 });
        }
        const { code, output } = await run(SYSTEMD_ANALYZE!, [
          "verify",
          "--recursive-errors=no",
          `--root=${root}`,
          `${unitDir}/aws-nat-router.service`,
        ]);
        const findings = output.split("\n").filter((line) => line.includes("aws-nat-router"));
        assert.deepEqual(findings, [], "systemd-analyze verify found problems in the unit");
        assert.equal(code, 0, output);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  });
});

Deno.test("scripts/aws-nat-router-drain.service", async (t) => {
  const text = await read("scripts/aws-nat-router-drain.service");
  const unit = parseUnit(text);
  const one = (key: string) => {
    const values = unit.get(key);
    assert.equal(values?.length, 1, `expected exactly one ${key}=, found ${values?.length ?? 0}`);
    return values![0]!;
  };

  await t.step("it does nothing at boot and drains when stopped (at shutdown or reboot)", () => {
    assert.equal(one("Service.Type"), "oneshot");
    assert.equal(one("Service.RemainAfterExit"), "yes");
    assert.equal(unit.get("Service.ExecStart"), undefined, "nothing runs at boot");
    assert.equal(
      one("Service.ExecStop"),
      "/usr/local/bin/aws-nat-router drain --vpc-id ${VPC_ID} --cluster-id ${CLUSTER_ID}",
    );
    assert.equal(one("Service.EnvironmentFile"), "/etc/aws-nat-router/env");
    assert.ok(unit.get("Service.Environment")?.includes("CLUSTER_ID=squid"));
    assert.ok(Number(one("Service.TimeoutStopSec")) > 30, "room for drain's 30s bound");
    assert.equal(one("Install.WantedBy"), "multi-user.target");
  });

  await t.step("it is stopped by the system going down, never by the router's own unit", () => {
    // Default dependencies (Conflicts=/Before=shutdown.target) stop it at shutdown; it is
    // bound to nothing, so stopping or restarting aws-nat-router.service leaves it running.
    assert.equal(unit.get("Unit.DefaultDependencies"), undefined);
    for (const key of ["BindsTo", "PartOf", "Requires", "Requisite", "StopWhenUnneeded"]) {
      assert.equal(unit.get(`Unit.${key}`), undefined, `Unit.${key}`);
    }
    // Started after the network and the router, so stopped (drained) before they go down.
    assert.deepEqual(one("Unit.After").split(/\s+/).sort(), [
      "aws-nat-router.service",
      "network-online.target",
    ]);
  });

  await t.step("it is hardened like the router's unit", async () => {
    const main = parseUnit(await read("scripts/aws-nat-router.service"));
    for (
      const key of [
        "User",
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "CapabilityBoundingSet",
        "RestrictAddressFamilies",
        "SystemCallFilter",
        "MemoryDenyWriteExecute",
      ]
    ) {
      assert.deepEqual(unit.get(`Service.${key}`), main.get(`Service.${key}`), key);
    }
    // The drain reads no ip_forward: only the SDK's profile directory is shown to it.
    assert.deepEqual(unit.get("Service.BindReadOnlyPaths"), ["-/root/.aws"]);
  });

  await t.step({
    name: SYSTEMD_ANALYZE
      ? "systemd-analyze verify finds nothing wrong with it"
      : "systemd-analyze verify accepts it (skipped: systemd-analyze is not installed)",
    ignore: SYSTEMD_ANALYZE === undefined,
    fn: async () => {
      const root = await Deno.makeTempDir({ prefix: "ship_drain_unit_" });
      try {
        const unitDir = `${root}/etc/systemd/system`;
        for (const dir of [unitDir, `${root}/usr/lib/systemd`, `${root}/usr/local/bin`]) {
          await Deno.mkdir(dir, { recursive: true });
        }
        assert.equal(
          (await run("cp", ["-a", "/usr/lib/systemd/system", `${root}/usr/lib/systemd/`])).code,
          0,
        );
        await Deno.writeTextFile(`${unitDir}/aws-nat-router-drain.service`, text);
        await Deno.writeTextFile(
          `${unitDir}/aws-nat-router.service`,
          await read("scripts/aws-nat-router.service"),
        );
        await Deno.writeTextFile(`${root}/usr/local/bin/aws-nat-router`, "#!/bin/sh\n", {
          mode: 0o755,
        });
        const { code, output } = await run(SYSTEMD_ANALYZE!, [
          "verify",
          "--recursive-errors=no",
          `--root=${root}`,
          `${unitDir}/aws-nat-router-drain.service`,
        ]);
        const findings = output.split("\n").filter((line) => line.includes("aws-nat-router-drain"));
        assert.deepEqual(findings, [], "systemd-analyze verify found problems in the unit");
        assert.equal(code, 0, output);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  });
});

Deno.test("shell scripts", async (t) => {
  await t.step({
    name: SHELLCHECK
      ? "the shell scripts pass shellcheck"
      : "the shell scripts pass shellcheck (skipped: shellcheck is not installed)",
    ignore: SHELLCHECK === undefined,
    fn: async () => {
      const { code, output } = await run(SHELLCHECK!, SHELL_SCRIPTS.map((s) => `${ROOT}/${s}`));
      assert.equal(code, 0, output);
    },
  });

  await t.step("every shell script uses bash strict mode", async () => {
    for (const script of SHELL_SCRIPTS) {
      const text = await read(script);
      assert.match(text, /^#!\/usr\/bin\/env bash\n/, script);
      assert.match(text, /^set -euo pipefail$/m, script);
    }
  });
});

Deno.test(".github/workflows", async (t) => {
  const ci: Yaml = parseYaml(await read(".github/workflows/ci.yml"));
  const release: Yaml = parseYaml(await read(".github/workflows/release.yml"));

  await t.step("ci runs on branch pushes and pull requests, and can be called by release", () => {
    assert.ok(ci.on.push, "ci must run on push");
    assert.equal(ci.on.push.tags, undefined, "tag pushes belong to release.yml");
    assert.ok("pull_request" in ci.on, "ci must run on pull_request");
    assert.ok("workflow_call" in ci.on, "release.yml reuses ci.yml");
  });

  await t.step("ci runs deno install --frozen then deno task ok on linux x86_64", () => {
    assert.deepEqual(ci.permissions, { contents: "read" });
    const jobs = Object.values<Yaml>(ci.jobs);
    assert.equal(jobs.length, 1);
    const job = jobs[0];
    assert.match(job["runs-on"], /^ubuntu-/);
    const runs: string[] = job.steps.flatMap((step: Yaml) => (step.run ? [step.run.trim()] : []));
    assert.deepEqual(runs, ["deno install --frozen", "deno task ok"]);
  });

  await t.step("every setup-deno pins Deno 2.9.6", () => {
    const steps = [...Object.values<Yaml>(ci.jobs), ...Object.values<Yaml>(release.jobs)]
      .flatMap((job) => job.steps ?? []);
    const setups = steps.filter((step: Yaml) =>
      String(step.uses).startsWith("denoland/setup-deno@")
    );
    assert.ok(setups.length >= 2, "ci and release build both set up Deno");
    for (const step of setups) assert.equal(step.with?.["deno-version"], DENO_VERSION);
  });

  await t.step("every action is pinned to a version tag or a commit", () => {
    for (const uses of [...usesOf(ci), ...usesOf(release)]) {
      if (uses.startsWith("./")) continue; // this repository's own reusable workflow
      assert.match(uses, /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/, uses);
    }
    for (const action of ["actions/checkout", "denoland/setup-deno"]) {
      assert.ok(usesOf(ci).some((uses) => uses.startsWith(`${action}@`)), action);
    }
  });

  await t.step("release runs on v* tags: check, build, stamp, then publish", () => {
    assert.deepEqual(release.on.push.tags, ["v*"]);
    assert.deepEqual(release.permissions, {}, "no default token permissions");
    const { check, build, release: publish } = release.jobs;
    assert.equal(check.uses, "./.github/workflows/ci.yml");
    assert.deepEqual(check.permissions, { contents: "read" });

    assert.equal(build.needs, "check");
    assert.deepEqual(build.permissions, { contents: "read" });
    const buildRuns = runsOf(build);
    assert.match(buildRuns, /deno install --frozen/);
    assert.match(buildRuns, /deno task compile/);
    assert.match(buildRuns, /--target x86_64-unknown-linux-gnu/);
    assert.match(buildRuns, /--target aarch64-unknown-linux-gnu/);
    assert.match(buildRuns, /sha256sum -c SHA256SUMS/);
    assert.doesNotMatch(buildRuns, /(^|\s)(-A|--allow-all)(\s|$)/);
    // The repository is named once: GITHUB_REPOSITORY, stamped into the published assets
    // after compiling (so SHA256SUMS covers them) and before the checksums are verified.
    const stamp = buildRuns.indexOf("scripts/stamp-release.sh");
    assert.ok(stamp > buildRuns.indexOf("deno task compile"), "stamp after compile");
    assert.ok(stamp < buildRuns.lastIndexOf("sha256sum -c SHA256SUMS"), "verify after stamp");
    assert.match(buildRuns, /--repo "\$GITHUB_REPOSITORY"/);
    assert.match(buildRuns, /--tag "\$GITHUB_REF_NAME"/);
    assert.ok(usesOf({ jobs: { build } }).some((u) => u.startsWith("actions/upload-artifact@")));

    assert.deepEqual(publish.permissions, { contents: "write" });
    assert.ok(
      usesOf({ jobs: { publish } }).some((u) => u.startsWith("actions/download-artifact@")),
    );
    assert.match(runsOf(publish), /gh release create "\$GITHUB_REF_NAME" dist\/\* --verify-tag/);
    assert.match(runsOf(publish), /--notes-file release-notes\.md/);
    const ghStep = publish.steps.find((step: Yaml) => /gh release/.test(step.run ?? ""));
    assert.equal(ghStep.env?.GH_TOKEN, "${{ github.token }}");
  });

  await t.step("each binary is executed on its own architecture before gh release create", () => {
    const { smoke, release: publish } = release.jobs;
    // gh release create runs only after every smoke run passed.
    assert.deepEqual([publish.needs].flat().sort(), ["build", "smoke"]);
    assert.equal(smoke.needs, "build");
    assert.deepEqual(smoke.permissions, { contents: "read" });
    assert.equal(smoke.strategy["fail-fast"], true);
    assert.equal(smoke["runs-on"], "${{ matrix.runner }}");
    assert.equal(smoke.defaults?.run?.shell, "bash", "bash: -eo pipefail");
    assert.deepEqual(smoke.strategy.matrix, {
      include: [
        { arch: "x86_64", target: "x86_64-unknown-linux-gnu", runner: "ubuntu-24.04" },
        { arch: "aarch64", target: "aarch64-unknown-linux-gnu", runner: "ubuntu-24.04-arm" },
      ],
    });
    assert.ok(usesOf({ jobs: { smoke } }).some((u) => u.startsWith("actions/download-artifact@")));

    const step = smoke.steps.find((s: Yaml) => /release_smoke\.ts/.test(s.run ?? ""));
    assert.ok(step, "a step runs scripts/release_smoke.ts");
    assert.equal(step.env.ARCH, "${{ matrix.arch }}");
    assert.equal(step.env.BIN, "dist/aws-nat-router-${{ matrix.target }}");
    const lines: string[] = step.run.split("\n");
    const at = (pattern: RegExp) => {
      const index = lines.findIndex((line) => pattern.test(line));
      assert.ok(index >= 0, `no line matching ${pattern} in:\n${step.run}`);
      return index;
    };
    // The runner really is that architecture; then the binary runs: --version here, and
    // release_smoke.ts's --version, --help and --once --dry-run against the simulated VPC.
    const version = at(/^"\$BIN" --version/);
    assert.ok(at(/\[\[ "\$\(uname -m\)" == "\$ARCH" \]\] \|\| .*exit 1/) < version);
    assert.ok(at(/^chmod \+x "\$BIN"$/) < version);
    assert.match(step.run, /sudo ip -n release-smoke addr add 10\.255\.0\.1\/24 dev lo/);
    assert.match(
      step.run.replace(/\s*\\\n\s*/g, " "),
      /sudo ip netns exec release-smoke .* deno run -P=sim --allow-net=127\.0\.0\.0\/8,10\.255\.0\.0\/24 scripts\/release_smoke\.ts --hosts 10\.255\.0 -- "\$BIN"$/m,
    );
    // The binary runs as built: nothing adds a permission flag to it.
    assert.doesNotMatch(step.run, /"\$BIN" [^\n]*--allow-/);
  });
});

Deno.test("IAM policies", async (t) => {
  const main: Yaml = JSON.parse(await read("scripts/iam-policy.json"));
  const recovery: Yaml = JSON.parse(await read("scripts/iam-policy-recovery.json"));
  const tf = await read("scripts/iam.tf");
  const bySid = (policy: Yaml) =>
    Object.fromEntries(policy.Statement.map((s: Yaml) => [s.Sid, s] as const));

  await t.step(
    "iam-policy.json allows exactly the router's actions, tag-scoped where IAM can",
    () => {
      assert.equal(main.Version, "2012-10-17");
      assert.deepEqual(bySid(main), {
        Describe: {
          Sid: "Describe",
          Effect: "Allow",
          // DescribeNatGateways: --fallback-nat-gateway is confirmed before it is needed.
          Action: ["ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNatGateways"],
          Resource: "*",
        },
        Routes: {
          Sid: "Routes",
          Effect: "Allow",
          Action: ["ec2:CreateRoute", "ec2:ReplaceRoute"],
          Resource: "arn:aws:ec2:*:*:route-table/*",
          Condition: TAG_CONDITION,
        },
        SourceDestCheck: {
          Sid: "SourceDestCheck",
          Effect: "Allow",
          Action: ["ec2:ModifyInstanceAttribute", "ec2:ModifyNetworkInterfaceAttribute"],
          Resource: ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:network-interface/*"],
          Condition: TAG_CONDITION,
        },
        DrainingMark: {
          Sid: "DrainingMark",
          Effect: "Allow",
          Action: ["ec2:CreateTags", "ec2:DeleteTags"],
          Resource: "arn:aws:ec2:*:*:instance/*",
          Condition: {
            StringEquals: {
              "ec2:ResourceTag/aws-nat-router/id": "squid",
              // Only the instance the request comes from: the node's own.
              "aws:ARN": "${ec2:SourceInstanceARN}",
            },
            // Only the draining tag, and never DeleteTags without a key (it deletes all).
            "ForAllValues:StringEquals": { "aws:TagKeys": ["aws-nat-router/draining"] },
            Null: { "aws:TagKeys": "false" },
          },
        },
      });
    },
  );

  await t.step(
    "iam-policy-recovery.json allows reboot and terminate of tagged instances only",
    () => {
      assert.equal(recovery.Version, "2012-10-17");
      assert.deepEqual(bySid(recovery), {
        Recovery: {
          Sid: "Recovery",
          Effect: "Allow",
          Action: ["ec2:RebootInstances", "ec2:TerminateInstances"],
          Resource: "arn:aws:ec2:*:*:instance/*",
          Condition: TAG_CONDITION,
        },
      });
    },
  );

  await t.step("iam.tf grants the same statements and fixes the original's bugs", () => {
    for (const statement of [...main.Statement, ...recovery.Statement]) {
      assert.match(tf, new RegExp(`sid\\s*=\\s*"${statement.Sid}"`), statement.Sid);
      for (const action of statement.Action) assert.ok(tf.includes(`"${action}"`), action);
    }
    const tfActions = new Set(tf.match(/"(ec2|sts):\w+"/g));
    const jsonActions = [...main.Statement, ...recovery.Statement].flatMap((s: Yaml) => s.Action);
    assert.deepEqual(tfActions, new Set([...jsonActions, "sts:AssumeRole"].map((a) => `"${a}"`)));
    assert.match(tf, /"ec2:ResourceTag\/aws-nat-router\/id"/);
    assert.match(tf, /"\$\$\{ec2:SourceInstanceARN\}"/, "the draining mark: own instance only");
    for (const resource of ["route-table/*", "instance/*", "network-interface/*"]) {
      assert.ok(tf.includes(`:${resource}"`), resource);
    }
    assert.match(tf, /variable "cluster_id" \{[^}]*default\s*=\s*"squid"/);
    assert.match(tf, /variable "enable_recovery" \{[^}]*type\s*=\s*bool[^}]*default\s*=\s*false/);
    assert.match(tf, /count\s*=\s*var\.enable_recovery \? 1 : 0/);
    assert.match(tf, /resource "aws_iam_instance_profile"/);
    assert.doesNotMatch(tf, /aws_iam_role\.squid/, "the original referenced a missing role");
    assert.doesNotMatch(tf, /"\$\{[^}]*\}"/, "interpolation-only strings are legacy syntax");
  });

  await t.step({
    name: TERRAFORM
      ? "iam.tf is canonically formatted HCL (terraform fmt)"
      : "iam.tf is canonically formatted HCL (skipped: terraform is not installed)",
    ignore: TERRAFORM === undefined,
    fn: async () => {
      // fmt parses the file offline; CHECKPOINT_DISABLE stops terraform's version check call.
      const { code, output } = await run(
        TERRAFORM!,
        ["fmt", "-check", "-diff", "-no-color", `${ROOT}/scripts/iam.tf`],
        { CHECKPOINT_DISABLE: "1" },
      );
      assert.equal(code, 0, output);
    },
  });
});
