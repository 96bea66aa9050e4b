/**
 * @module Tests of the value parsers and formatters: Go-style durations (parsing,
 * explanations, formatting) and `host:port`. The parsers' messages in context are tested
 * through `parseConfig()` in `config_test.ts`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  explainBadDuration,
  formatDuration,
  formatHostPort,
  parseDuration,
  parseHostPort,
} from "./parse.ts";

Deno.test("parseDuration()", async (t) => {
  const valid: readonly [string, number][] = [
    ["500ms", 500],
    ["5s", 5_000],
    ["1m30s", 90_000],
    ["1.5s", 1_500],
    ["2h45m", 9_900_000],
    ["1h0m0s", 3_600_000],
    ["0", 0],
    ["0s", 0],
    ["+5s", 5_000],
    [".5s", 500],
    ["5.s", 5_000],
    ["1.1s", 1_100],
    ["0.1s", 100],
    ["1ms", 1],
    ["1ns", 1],
    ["500us", 1],
    ["1500us", 2],
    ["1500µs", 2],
    ["1500μs", 2],
    ["1.5ms", 2],
    ["1000000ns", 1],
    ["1000001ns", 2],
    ["24h", 86_400_000],
    ["1s500ms", 1_500],
  ];
  for (const [text, ms] of valid) {
    await t.step(`reads "${text}" as ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  const invalid: readonly [string, string][] = [
    ["", "it is empty"],
    ["5", "a bare number has no unit"],
    ["1.5", "a bare fraction has no unit"],
    ["-1s", "it is negative"],
    ["-0s", "it has a minus sign"],
    ["1y", "y is not a unit"],
    ["5x", "x is not a unit"],
    ["1d", "days are not a unit"],
    ["5S", "units are lower case"],
    ["s", "a unit needs a number"],
    [".s", "a dot is not a number"],
    ["5 s", "it contains a space"],
    [" 5s", "it has a leading space"],
    ["5s ", "it has a trailing space"],
    ["1m30", "the last number has no unit"],
    ["1..5s", "it has two dots"],
    ["++5s", "it has two signs"],
    ["9999999999h", "it overflows Go's int64 nanoseconds"],
  ];
  for (const [text, why] of invalid) {
    await t.step(`rejects "${text}" because ${why}`, () => {
      assert.equal(parseDuration(text), undefined);
    });
  }
});

Deno.test("explainBadDuration()", async (t) => {
  const cases: readonly [string, RegExp][] = [
    ["5", /add a unit, e\.g\. "5s" or "5ms"/],
    ["-1s", /cannot be negative/],
    ["1y", /unknown unit "y"/],
    ["5x", /unknown unit "x"; expected a duration such as 500ms or 5s/],
    ["soon", /expected a duration such as 500ms or 5s/],
  ];
  for (const [text, expected] of cases) {
    await t.step(`explains why "${text}" is not a duration`, () => {
      assert.match(explainBadDuration(text), expected);
    });
  }
});

Deno.test("formatDuration()", async (t) => {
  const cases: readonly [number, string][] = [
    [0, "0s"],
    [1, "1ms"],
    [500, "500ms"],
    [1_000, "1s"],
    [1_500, "1.5s"],
    [5_000, "5s"],
    [30_000, "30s"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [61_250, "1m1.25s"],
    [300_000, "5m"],
    [3_600_000, "1h"],
    [9_900_000, "2h45m"],
    [86_400_000, "24h"],
    [0.2, "1ms"],
  ];
  for (const [ms, text] of cases) {
    await t.step(`formats ${ms} ms as "${text}"`, () => {
      assert.equal(formatDuration(ms), text);
    });
  }

  await t.step("formats every whole millisecond count so that it parses back the same", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (ms) => {
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
    );
  });
});

Deno.test("formatHostPort()", async (t) => {
  const cases: readonly [string, string, number, string][] = [
    ["an IPv4 address as is", "127.0.0.1", 9100, "127.0.0.1:9100"],
    ["a host name as is", "example.com", 443, "example.com:443"],
    ["every interface as is", "0.0.0.0", 3128, "0.0.0.0:3128"],
    ["an IPv6 address in brackets", "::1", 9100, "[::1]:9100"],
    ["a scoped IPv6 address in brackets", "fe80::1%eth0", 80, "[fe80::1%eth0]:80"],
  ];
  for (const [name, hostname, port, text] of cases) {
    await t.step(`formatHostPort() writes ${name}: ${text}`, () => {
      assert.equal(formatHostPort({ hostname, port }), text);
    });
  }

  await t.step("formatHostPort() writes what parseHostPort() reads back the same", () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.domain().filter((name) => name.length <= 253),
    );
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), (hostname, port) => {
        const parsed = parseHostPort(formatHostPort({ hostname, port }), "h:1", undefined);
        assert.deepEqual(parsed, { ok: true, value: { hostname, port } });
      }),
    );
  });
});
