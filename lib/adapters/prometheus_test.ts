/** @module Tests for the metrics registry and the text exposition format. */
import assert from "node:assert/strict";
import { escapeHelp, escapeLabelValue, formatSampleValue, Registry } from "./prometheus.ts";

Deno.test("text format escaping", async (t) => {
  const cases: [string, (text: string) => string, string, string][] = [
    ["a label value keeps plain text", escapeLabelValue, "us-east-1a", "us-east-1a"],
    ["a label value escapes quotes", escapeLabelValue, 'say "hi"', 'say \\"hi\\"'],
    ["a label value escapes backslashes first", escapeLabelValue, "a\\n", "a\\\\n"],
    ["a label value escapes line feeds", escapeLabelValue, "a\nb", "a\\nb"],
    ["help escapes backslashes and line feeds", escapeHelp, "a\\b\nc", "a\\\\b\\nc"],
    ["help keeps quotes", escapeHelp, 'the "leader"', 'the "leader"'],
  ];
  for (const [name, escape, input, expected] of cases) {
    await t.step(name, () => assert.equal(escape(input), expected));
  }
  await t.step("sample values write infinities and NaN the Prometheus way", () => {
    assert.deepEqual(
      [Infinity, -Infinity, NaN, 0, 1.5, 1e-7].map(formatSampleValue),
      ["+Inf", "-Inf", "NaN", "0", "1.5", "1e-7"],
    );
  });
});

Deno.test("Registry.render() writes HELP, TYPE and sorted series for each metric", () => {
  const registry = new Registry();
  const calls = registry.counter("demo_calls_total", "Calls\nby action", ["action", "outcome"]);
  const up = registry.gauge("demo_up", "Whether it is up");
  calls.inc({ action: "ReplaceRoute", outcome: "ok" });
  calls.inc({ action: "DescribeRouteTables", outcome: "RequestLimitExceeded" }, 2);
  calls.inc({ action: "ReplaceRoute", outcome: "ok" });
  calls.inc({ action: "ReplaceRoute", outcome: "ok" }, -5); // ignored: counters only go up
  calls.touch({ action: "CreateRoute", outcome: "ok" });
  up.set({}, 1);
  assert.equal(
    registry.render(),
    [
      "# HELP demo_calls_total Calls\\nby action",
      "# TYPE demo_calls_total counter",
      'demo_calls_total{action="CreateRoute",outcome="ok"} 0',
      'demo_calls_total{action="DescribeRouteTables",outcome="RequestLimitExceeded"} 2',
      'demo_calls_total{action="ReplaceRoute",outcome="ok"} 2',
      "# HELP demo_up Whether it is up",
      "# TYPE demo_up gauge",
      "demo_up 1",
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram counts cumulative buckets, +Inf, sum and count per series", () => {
  const registry = new Registry();
  const h = registry.histogram("demo_seconds", "Latency", ["id"], [0.1, 1]);
  for (const value of [0.05, 0.1, 0.5, 3]) h.observe({ id: 'a"b' }, value);
  h.observe({ id: "c" }, NaN); // ignored, but the series exists
  assert.equal(
    registry.render(),
    [
      "# HELP demo_seconds Latency",
      "# TYPE demo_seconds histogram",
      'demo_seconds_bucket{id="a\\"b",le="0.1"} 2',
      'demo_seconds_bucket{id="a\\"b",le="1"} 3',
      'demo_seconds_bucket{id="a\\"b",le="+Inf"} 4',
      'demo_seconds_sum{id="a\\"b"} 3.65',
      'demo_seconds_count{id="a\\"b"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("Registry refuses names the format does not allow", async (t) => {
  const cases: [string, (r: Registry) => unknown][] = [
    ["a metric name with a dash", (r) => r.counter("bad-name_total", "x")],
    ["a label name with a dash", (r) => r.gauge("ok_gauge", "x", ["zone-id"])],
    ["a reserved label name", (r) => r.gauge("ok_gauge", "x", ["__name"])],
    ["le on a metric", (r) => r.histogram("ok_seconds", "x", ["le"], [1])],
    ["unsorted buckets", (r) => r.histogram("ok_seconds", "x", [], [1, 0.5])],
    ["an explicit +Inf bucket", (r) => r.histogram("ok_seconds", "x", [], [1, Infinity])],
    ["a metric registered twice", (r) => {
      r.counter("twice_total", "x");
      r.counter("twice_total", "x");
    }],
  ];
  for (const [name, register] of cases) {
    await t.step(`refuses ${name}`, () => assert.throws(() => register(new Registry())));
  }
});
