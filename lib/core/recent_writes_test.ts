import assert from "node:assert/strict";
import { routeChange, routeTable, writtenRoute } from "../../tests/fixtures.ts";
import { overlayRecentWrites, rememberWrites } from "./recent_writes.ts";

/** A table with no default route, or one the router wrote to `instanceId`. */
const table = (id: string, instanceId?: string) =>
  routeTable(id, "us-east-1a", instanceId === undefined ? undefined : writtenRoute(instanceId));

Deno.test("overlayRecentWrites()", async (t) => {
  const recent = rememberWrites(new Map(), [routeChange("rtb-1", "i-b")], 1000);

  await t.step("trusts a fresh write over a stale read", () => {
    const { routeTables, recentWrites } = overlayRecentWrites(
      [table("rtb-1", "i-a")],
      recent,
      2000,
      5000,
    );
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-b");
    assert.equal(recentWrites.size, 1, "the write stays remembered until EC2 shows it");
  });

  await t.step("forgets a write once the read shows it", () => {
    const { routeTables, recentWrites } = overlayRecentWrites(
      [table("rtb-1", "i-b")],
      recent,
      2000,
      5000,
    );
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-b");
    assert.equal(recentWrites.size, 0);
  });

  await t.step("lets EC2's answer stand after the window", () => {
    const { routeTables, recentWrites } = overlayRecentWrites([table("rtb-1")], recent, 7000, 5000);
    assert.equal(
      routeTables[0]?.defaultRoute,
      undefined,
      "a route deleted behind our back shows as deleted",
    );
    assert.equal(recentWrites.size, 0);
  });

  await t.step("leaves tables it did not write alone", () => {
    const { routeTables } = overlayRecentWrites([table("rtb-2", "i-a")], recent, 2000, 5000);
    assert.equal(routeTables[0]?.defaultRoute?.instanceId, "i-a");
  });
});
