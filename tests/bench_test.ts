/**
 * @module Smoke test of the benchmark harness (`deno task bench`): a short run of the refusing
 * failover scenario with 2 trials per configuration completes, prints the table and writes
 * well-formed JSON with both configurations side by side. Timing targets are not asserted
 * here (the machine may be busy); the full run is `deno task bench`.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("bench --trials 2 --scenario refusing completes and writes valid JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_test_" });
  try {
    const out = `${dir}/latest.json`;
    const home = Deno.env.get("HOME") ?? "/root";
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=sim",
        "--quiet",
        "--no-prompt",
        "scripts/bench.ts",
        "--trials",
        "2",
        "--scenario",
        "refusing",
        "--out",
        out,
      ],
      cwd: ROOT,
      clearEnv: true,
      env: {
        HOME: home,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const printed = new TextDecoder().decode(stdout);
    const log = new TextDecoder().decode(stderr);
    assert.ok(
      code === 0 || code === 1,
      `bench exited ${code} (0: targets met, 1: missed):\n${log}`,
    );
    assert.match(printed, /^scenario\s+metric\s+configuration/m, "prints the table header");

    const doc = JSON.parse(await Deno.readTextFile(out));
    assert.equal(doc.trials, 2);
    assert.equal(doc.deno, Deno.version.deno);
    assert.equal(typeof doc.cores, "number");
    assert.ok(Array.isArray(doc.configurations.new.flags), "records the new defaults' flags");
    assert.ok(Array.isArray(doc.configurations.baseline.flags), "records the baseline's flags");
    const rows = doc.results as {
      scenario: string;
      configuration: string;
      samples: number[];
      failed: number;
      p50: number;
      max: number;
      extra?: { error?: string };
    }[];
    assert.deepEqual(rows.map((r) => `${r.scenario}/${r.configuration}`), [
      "refusing/new",
      "refusing/baseline",
    ]);
    for (const r of rows) {
      assert.equal(r.extra?.error, undefined, `${r.configuration} ran: ${r.extra?.error}`);
      assert.equal(r.samples.length + r.failed, 2, `${r.configuration}: 2 trials`);
      assert.equal(r.failed, 0, `${r.configuration}: every trial converged`);
      assert.ok(r.p50 > 0 && r.max >= r.p50 && r.max < 30_000, `${r.configuration}: sane times`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
