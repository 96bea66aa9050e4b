// deno-lint-ignore-file no-console
// (a build script: its console output is its interface)
/**
 * @module Builds the release binaries: one `deno compile` per target with the program's
 * audited "default" permission set from deno.json baked in, then `SHA256SUMS` beside them.
 *
 *   deno task compile [--target <triple>]... [--out-dir dist] [--entry main.ts]
 *
 * On a tag build (GITHUB_REF_NAME=v0.1.0) it first checks that the tag names deno.json's
 * version, which the binary prints with `--version`. `--entry` exists for tests only.
 */
import { parseArgs } from "node:util";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "../lib/core/version.ts";

export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;
export type Target = (typeof TARGETS)[number];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * V8 flags baked into the binary (`deno compile --v8-flags`); `deno task start`, the tests
 * and the benchmark run the program with the same flags, so what they measure is what ships.
 * A 1 MB young generation (V8's default grows it to 16 MB per semi-space) and a 64 MB old
 * generation (the router's heap holds about 27 MB once the SDK is loaded; 200 route tables
 * add little) keep V8 collecting instead of growing: the start-up peak and the long-run
 * resident set stop at about 100 MB and 60 MB anonymous. See README "Footprint".
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--max-old-space-size=64"];

export interface CompileJob {
  readonly target: Target;
  readonly outDir: string;
  readonly entry: string;
  /** deno.json: its import map, lock file and permission sets apply to any entry. */
  readonly config: string;
}

export function binaryName(target: Target): string {
  return `aws-nat-router-${target}`;
}

/** The `deno compile` arguments for one target (pure, so tests can audit them). */
export function compileArgs(job: CompileJob): string[] {
  return [
    "compile",
    "--config",
    job.config,
    // The audited set from deno.json, never -A: the binary gets exactly these permissions.
    "--permission-set=default",
    // Anything outside that set throws instead of prompting (a daemon has no one to ask).
    "--no-prompt",
    // Fail rather than silently change deno.lock: the release embeds what CI tested.
    "--frozen",
    // `deno compile` runs with the flags it bakes in, and the type checker does not fit in
    // a 64 MB heap: main() type-checks with `deno check` first, then compiles unchecked.
    "--no-check",
    ...(V8_FLAGS.length > 0 ? [`--v8-flags=${V8_FLAGS.join(",")}`] : []),
    "--target",
    job.target,
    "--output",
    join(job.outDir, binaryName(job.target)),
    job.entry,
  ];
}

/**
 * The tag/version mismatch message, or undefined when they agree or this is not a tag
 * build. GitHub sets GITHUB_REF_TYPE to "branch" for branch and pull-request builds.
 */
export function checkTag(
  env: { readonly refName?: string | undefined; readonly refType?: string | undefined },
  version: string,
): string | undefined {
  if (env.refName === undefined || env.refName === "" || env.refType === "branch") return;
  if (env.refName === `v${version}`) return;
  return `Tag "${env.refName}" does not match deno.json's version "${version}": ` +
    `set "version" to "${env.refName.replace(/^v/, "")}" in deno.json or tag v${version}`;
}

/** `sha256sum` format: "<hex>  <file name>", one line per file, sorted by name. */
export async function sha256Sums(files: readonly string[]): Promise<string> {
  const lines = await Promise.all(files.map(async (file) => {
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(file));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"))
      .join("");
    return `${hex}  ${basename(file)}\n`;
  }));
  return lines.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join("");
}

function isTarget(value: string): value is Target {
  return (TARGETS as readonly string[]).includes(value);
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        target: { type: "string", multiple: true },
        "out-dir": { type: "string", default: join(ROOT, "dist") },
        entry: { type: "string", default: join(ROOT, "main.ts") },
      },
    }));
  } catch (error) {
    console.error(
      `${(error as Error).message}: usage: deno task compile [--target <triple>]...` +
        ` [--out-dir <dir>]`,
    );
    return 2;
  }
  const targets = values.target ?? [...TARGETS];
  const unknown = targets.find((t) => !isTarget(t));
  if (unknown !== undefined) {
    console.error(`Unknown --target "${unknown}": expected one of ${TARGETS.join(", ")}`);
    return 2;
  }
  const tagError = checkTag({
    refName: Deno.env.get("GITHUB_REF_NAME"),
    refType: Deno.env.get("GITHUB_REF_TYPE"),
  }, VERSION);
  if (tagError !== undefined) {
    console.error(tagError);
    return 1;
  }
  if (Deno.env.get("DENORT_BIN")) {
    console.error("DENORT_BIN is set: binaries use that local base, they are not releasable");
  }

  const check = ["check", "--config", join(ROOT, "deno.json"), "--frozen", resolve(values.entry)];
  console.error(`$ deno ${check.join(" ")}`);
  if (!(await new Deno.Command(Deno.execPath(), { args: check }).spawn().status).success) {
    console.error("deno check failed: the release is not built from code that does not type-check");
    return 1;
  }
  const outDir = resolve(values["out-dir"]);
  await Deno.mkdir(outDir, { recursive: true });
  const outputs: string[] = [];
  for (const target of targets.filter(isTarget)) {
    const job: CompileJob = {
      target,
      outDir,
      entry: resolve(values.entry),
      config: join(ROOT, "deno.json"),
    };
    const args = compileArgs(job);
    console.error(`$ deno ${args.join(" ")}`);
    const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
    if (code !== 0) {
      console.error(`deno compile failed for ${target} (exit code ${code})`);
      return 1;
    }
    outputs.push(join(outDir, binaryName(target)));
  }
  await Deno.writeTextFile(join(outDir, "SHA256SUMS"), await sha256Sums(outputs));
  console.error(`Wrote ${outputs.length} binaries and SHA256SUMS for ${VERSION} to ${outDir}`);
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
