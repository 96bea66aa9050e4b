import assert from "node:assert/strict";
import { createLogger, formatLine, formatValue, memoryLogger } from "./log.ts";

Deno.test("the logger", async (t) => {
  await t.step("formats one line: time, level, event, key=value fields", () => {
    assert.equal(
      formatLine(0, "info", "route.replaced", { route_table_id: "rtb-1", from: "i-a", to: "i-b" }),
      "1970-01-01T00:00:00.000Z INFO route.replaced route_table_id=rtb-1 from=i-a to=i-b",
    );
  });

  await t.step("quotes values with spaces, quotes, equals signs or control characters", () => {
    assert.equal(formatValue("a b"), '"a b"');
    assert.equal(formatValue('say "x"'), '"say \\"x\\""');
    assert.equal(formatValue("k=v"), '"k=v"');
    assert.equal(formatValue("line\nbreak"), '"line\\nbreak"');
    assert.equal(formatValue(""), '""');
  });

  await t.step("writes undefined and null as a dash, numbers and booleans bare", () => {
    assert.equal(formatValue(undefined), "-");
    assert.equal(formatValue(null), "-");
    assert.equal(formatValue(42), "42");
    assert.equal(formatValue(false), "false");
  });

  await t.step("drops lines below its level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (line) => lines.push(line), now: () => 0 });
    log.debug("a.debug");
    log.info("a.info");
    log.warn("a.warn");
    log.error("a.error");
    assert.deepEqual(lines.map((line) => line.split(" ")[2]), ["a.warn", "a.error"]);
    assert.equal(log.enabled("info"), false);
    assert.equal(log.enabled("error"), true);
  });

  await t.step("keeps lines in memory for tests", () => {
    const log = memoryLogger();
    log.debug("x.y", { n: 1 });
    assert.deepEqual(log.lines, ["1970-01-01T00:00:00.000Z DEBUG x.y n=1"]);
  });
});
