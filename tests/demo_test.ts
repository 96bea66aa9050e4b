/**
 * @module The demo (`scripts/demo.ts`) as a user runs it: a subprocess under the `sim`
 * permission set, stdout not a terminal, the failover scenario only. Checks that it exits 0,
 * prints the live table and the failover time, and cleans up after itself.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("demo --scenario failover prints the table and the failover time, and exits 0", async () => {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=sim", "--quiet", "scripts/demo.ts", "--scenario", "failover"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    const context = `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
    assert.ok(!abort.signal.aborted, `the demo did not finish within 60 s${context}`);
    assert.equal(code, 0, `the demo's exit code${context}`);
    assert.ok(!out.includes("\x1b["), "no ANSI escapes when stdout is not a terminal");
    assert.match(out, /ROUTE TABLE\s+ZONE\s+→ NAT INSTANCE/, `the route table table${context}`);
    assert.match(out, /NAT INSTANCE\s+ZONE\s+LISTENER\s+ROUTERS SAY/, `the NAT table${context}`);
    assert.match(out, /silent\s+UNHEALTHY 3\/3 \(timeout\)/, `the silent NAT seen down${context}`);
    assert.match(out, /leader: i-\S+ \(all running routers agree\)/, `the leader${context}`);
    assert.match(
      out,
      /t=0: i-\S+ goes silent[^]*✓ converged: 2 route tables re-pointed, the last at t=\d+\.\d\d s/,
      `the failover time line${context}`,
    );
    assert.match(
      out,
      /^ {2}2 failover\s+\d+\.\d\d s\s+2\s+2$/m,
      `the summary's failover row${context}`,
    );
    assert.doesNotMatch(out, /takeover|failback —/, "only the failover scenario ran");
    assert.match(out, /untagged main table rtb-\S+: untouched ✓/);
    assert.match(out, /foreign-VPC table rtb-\S+: untouched ✓/);
    assert.match(out, /routers stopped with SIGTERM: router-1, router-2, router-3 exited 0 ✓/);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("demo rejects an unknown scenario with exit code 2 and starts nothing", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=sim", "--quiet", "scripts/demo.ts", "--scenario", "nope"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.match(new TextDecoder().decode(stderr), /Unknown --scenario "nope": expected one of all/);
});
