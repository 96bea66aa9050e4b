/**
 * @module Checks scripts/compile.ts: the `deno compile` command line it builds (audited
 * permission set, never allow-all), the tag/version check, SHA256SUMS, and an offline host
 * build of main.ts. Offline: DENORT_BIN points `deno compile` at a local base binary (this
 * Deno itself) instead of downloading denort; the result is not runnable as the app (a full
 * deno ignores the payload) but holds the real payload, whose metadata is read back here.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import denoConfig from "../deno.json" with { type: "json" };
import {
  binaryName,
  checkTag,
  compileArgs,
  type CompileJob,
  sha256Sums,
  TARGETS,
  V8_FLAGS,
} from "../scripts/compile.ts";
import { runArgs } from "./router_process.ts";
import { VERSION } from "../lib/core/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = `${ROOT}main.ts`;
const HAS_MAIN = await Deno.stat(MAIN).then(() => true, () => false);
const SDK = denoConfig.imports["@aws-sdk/client-ec2"]; // npm:@aws-sdk/client-ec2@<version>

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The JSON object starting at `start` in `text` (string- and escape-aware brace matching). */
function jsonObjectAt(text: string, start: number): unknown {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new Error("unterminated JSON object");
}

// deno-lint-ignore no-explicit-any
type Metadata = any;

/** The standalone metadata `deno compile` embeds (entry point, permissions, npm snapshot). */
function embeddedMetadata(binary: Uint8Array): Metadata {
  const buffer = Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength);
  const start = buffer.indexOf('{"argv":');
  assert.ok(start >= 0, "no deno compile metadata in the binary");
  return jsonObjectAt(buffer.toString("latin1", start, start + 1_000_000), 0);
}

async function run(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("scripts/compile.ts", async (t) => {
  await t.step("the binary, deno task start and the tests run with the same V8 flags", () => {
    const flag = `--v8-flags=${V8_FLAGS.join(",")}`;
    assert.ok(V8_FLAGS.length > 0);
    for (const target of TARGETS) {
      const job: CompileJob = { target, outDir: "/out", entry: MAIN, config: "/r/deno.json" };
      const args = compileArgs(job);
      assert.ok(args.indexOf(flag) >= 0 && args.indexOf(flag) < args.indexOf(MAIN), args.join(" "));
    }
    assert.ok(denoConfig.tasks.start.split(" ").includes(flag), denoConfig.tasks.start);
    assert.ok(runArgs(undefined, []).includes(flag));
  });

  await t.step("compileArgs() bakes in the default permission set and never allows all", () => {
    for (const target of TARGETS) {
      const job: CompileJob = { target, outDir: "/out", entry: MAIN, config: "/r/deno.json" };
      const args = compileArgs(job);
      assert.equal(args[0], "compile");
      assert.ok(args.includes("--permission-set=default"), args.join(" "));
      assert.ok(args.includes("--no-prompt"));
      assert.ok(args.includes("--frozen"), "a release never rewrites deno.lock");
      assert.deepEqual(args.slice(args.indexOf("--config"), args.indexOf("--config") + 2), [
        "--config",
        "/r/deno.json",
      ]);
      assert.ok(!args.some((a) => a === "-A" || a.startsWith("--allow-")), args.join(" "));
      assert.equal(args[args.indexOf("--target") + 1], target);
      assert.equal(args[args.indexOf("--output") + 1], `/out/aws-nat-router-${target}`);
      assert.equal(args.at(-1), MAIN);
    }
    assert.deepEqual(TARGETS, ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]);
  });

  await t.step("checkTag() accepts the matching tag and branch builds, rejects other tags", () => {
    assert.equal(checkTag({ refName: "v1.2.3", refType: "tag" }, "1.2.3"), undefined);
    assert.equal(checkTag({ refName: "main", refType: "branch" }, "1.2.3"), undefined);
    assert.equal(checkTag({}, "1.2.3"), undefined);
    assert.equal(
      checkTag({ refName: "v1.2.4", refType: "tag" }, "1.2.3"),
      `Tag "v1.2.4" does not match deno.json's version "1.2.3": set "version" to "1.2.4" ` +
        `in deno.json or tag v1.2.3`,
    );
    assert.ok(checkTag({ refName: "1.2.3" }, "1.2.3"), "tags carry a leading v");
  });

  await t.step("sha256Sums() writes sha256sum lines sorted by file name", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ship_sums_" });
    try {
      await Deno.writeTextFile(`${dir}/b`, "abc");
      await Deno.writeTextFile(`${dir}/a`, "");
      assert.equal(
        await sha256Sums([`${dir}/b`, `${dir}/a`]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n" +
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b\n",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("compile.ts refuses a tag that does not name deno.json's version", async () => {
    const result = await run(["run", "-P=sim", "scripts/compile.ts"], {
      GITHUB_REF_NAME: `v${VERSION}-not`,
      GITHUB_REF_TYPE: "tag",
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Tag "v.*-not" does not match deno\.json's version/);
  });

  const skip = HAS_MAIN ? "" : " (skipped: main.ts does not exist yet)";

  await t.step({
    name: `deno info shows main.ts's module graph reaching ${SDK}${skip}`,
    ignore: !HAS_MAIN,
    fn: async () => {
      const result = await run(["info", "--json", MAIN]);
      assert.equal(result.code, 0, result.stderr);
      const graph = JSON.parse(result.stdout);
      assert.deepEqual(graph.roots, [new URL(`file://${MAIN}`).href]);
      const npm = graph.modules.map((m: { npmPackage?: string }) => m.npmPackage);
      assert.ok(npm.includes(SDK.replace(/^npm:/, "")), `no ${SDK} in ${npm.join(", ")}`);
    },
  });

  await t.step({
    name: `compile.ts builds main.ts offline for the host with the audited permissions${skip}`,
    ignore: !HAS_MAIN,
    fn: async () => {
      const outDir = await Deno.makeTempDir({ prefix: "ship_compile_" });
      try {
        const target = "x86_64-unknown-linux-gnu";
        const result = await run(
          ["run", "-P=sim", "scripts/compile.ts", "--target", target, "--out-dir", outDir],
          { DENORT_BIN: Deno.execPath(), GITHUB_REF_NAME: `v${VERSION}`, GITHUB_REF_TYPE: "tag" },
        );
        assert.equal(result.code, 0, result.stderr);
        const binary = await Deno.readFile(`${outDir}/${binaryName(target)}`);
        assert.equal(
          await Deno.readTextFile(`${outDir}/SHA256SUMS`),
          `${await sha256Hex(binary)}  ${binaryName(target)}\n`,
        );

        const metadata = embeddedMetadata(binary);
        assert.equal(metadata.entrypoint_key.replace(/^.*\//, ""), "main.ts");
        assert.equal(metadata.app_version, VERSION);
        const audited = denoConfig.permissions.default;
        const { permissions } = metadata;
        assert.deepEqual(permissions.allow_net, audited.net);
        assert.deepEqual(permissions.allow_env, audited.env);
        assert.deepEqual(permissions.allow_read, audited.read);
        assert.deepEqual(permissions.allow_sys, audited.sys);
        for (const never of ["allow_write", "allow_run", "allow_ffi"]) {
          assert.equal(permissions[never], null, `${never} must not be granted`);
        }
        assert.equal(permissions.prompt, false, "a daemon must never prompt");
        // The embedded npm snapshot names the SDK package at its locked version.
        const sdk = new TextEncoder().encode(SDK.replace(/^npm:/, ""));
        assert.ok(Buffer.from(binary.buffer).indexOf(sdk) >= 0, `${SDK} is not embedded`);
      } finally {
        await Deno.remove(outDir, { recursive: true });
      }
    },
  });
});
