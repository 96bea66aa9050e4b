import assert from "node:assert/strict";
import { route } from "../../tests/fixtures.ts";
import type { RouteChange, RouteTable } from "../model.ts";
import { overlayRecentWrites, rememberWrites } from "./recent_writes.ts";

const table = (id: string, instanceId?: string): RouteTable => ({
  routeTableId: id,
  zone: "us-east-1a",
  defaultRoute: instanceId === undefined
    ? undefined
    : route({ instanceId, networkInterfaceId: `eni-${instanceId.slice(2)}` }),
});
const change = (routeTableId: string, to: string): RouteChange => ({
  action: "replace",
  routeTableId,
  destinationCidrBlock: "0.0.0.0/0",
  from: undefined,
  to,
  networkInterfaceId: `eni-${to.slice(2)}`,
  reason: "nat_unhealthy",
});

Deno.test("overlayRecentWrites()", async (t) => {
  const recent = rememberWrites(new Map(), [change("rtb-1", "i-b")], 1000);

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
