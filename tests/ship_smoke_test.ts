/**
 * @module Checks scripts/release_smoke.ts (`deno task smoke`), the check the release workflow
 * runs on each compiled binary before publishing: it passes the program run from source on
 * loopback, and fails a wrong version, a thin `--help` and a "dry run" that writes routes.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function smoke(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=sim", "--quiet", "scripts/release_smoke.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** Lines starting with "ok" or "FAIL", as [status, check]. */
function verdicts(stdout: string): [string, string][] {
  return stdout.split("\n").flatMap((line) => {
    const match = /^(ok|FAIL)\s+(--[\w -]+?):/.exec(line);
    return match ? [[match[1]!, match[2]!] as [string, string]] : [];
  });
}

Deno.test("scripts/release_smoke.ts", async (t) => {
  await t.step("it passes the program run from source, on loopback", async () => {
    const result = await smoke([]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(verdicts(result.stdout), [
      ["ok", "--version"],
      ["ok", "--help"],
      ["ok", "--once --dry-run"],
    ]);
    assert.match(result.stdout, /4 route\.planned lines for 4 tables \(0 missing or wrong\)/);
    assert.match(result.stdout, /of which 0 not Describe/);
    assert.match(result.stdout, /^release smoke check passed$/m);
  });

  await t.step("it fails a binary with another version, a thin --help, no plan", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ship_smoke_" });
    try {
      const fake = `${dir}/aws-nat-router`;
      await Deno.writeTextFile(
        fake,
        '#!/bin/sh\ncase "$1" in --version) echo "aws-nat-router 9.9.9" ;; --help) echo "--vpc-id" ;; esac\n',
        { mode: 0o755 },
      );
      const result = await smoke(["--", fake]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.deepEqual(verdicts(result.stdout), [
        ["FAIL", "--version"],
        ["FAIL", "--help"],
        ["FAIL", "--once --dry-run"],
      ]);
      assert.match(result.stdout, /printed "aws-nat-router 9\.9\.9"/);
      assert.match(result.stdout, /lacks --once --dry-run --ec2-election/);
      assert.match(result.stdout, /^3 checks failed$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("it fails a program that ignores --dry-run and writes routes", async () => {
    // The real program, with --dry-run dropped from its arguments.
    const dropDryRun = 'args=(); for a; do [ "$a" = --dry-run ] || args+=("$a"); done; ' +
      `exec "${Deno.execPath()}" run -P --allow-net=127.0.77.0/24 --no-prompt --quiet ` +
      `"${ROOT}main.ts" "\${args[@]}"`;
    const result = await smoke(["--", "bash", "-c", dropDryRun, "bash"]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(verdicts(result.stdout), [
      ["ok", "--version"],
      ["ok", "--help"],
      ["FAIL", "--once --dry-run"],
    ]);
    assert.match(result.stdout, /0 route\.planned lines for 4 tables \(4 missing or wrong\)/);
    assert.doesNotMatch(result.stdout, /of which 0 not Describe/);
  });

  await t.step("bad arguments exit 2 with one line", async () => {
    const result = await smoke(["--hosts", "10.255"]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'release_smoke.ts: Invalid --hosts "10.255": expected three octets such as 10.255.0\n',
    );
  });
});
