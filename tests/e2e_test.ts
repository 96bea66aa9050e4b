/**
 * @module Tests for the end-state invariant of the end-to-end tests, `misrouting()`, on a
 * simulated VPC whose routes the test sets itself (no router runs).
 */
import assert from "node:assert/strict";
import { misrouting } from "./e2e.ts";
import { SimVpc } from "./sim/vpc.ts";

Deno.test("misrouting()", async (t) => {
  const vpc = await SimVpc.standard({ zones: [2, 1, 0] });
  try {
    const { natIds, tablesByZone, zones } = vpc.fleet;
    const [a1, a2, b1] = natIds as [string, string, string];
    const [zoneA, zoneB, zoneC] = zones as [string, string, string];
    const route = (table: string, instanceId: string) =>
      vpc.ec2.setRoute(table, { destinationCidrBlock: "0.0.0.0/0", instanceId });
    const [tableA1, tableA2] = tablesByZone[zoneA] as [string, string];

    await t.step("misrouting() names a tagged route table without a default route", () => {
      assert.match(
        misrouting(vpc, natIds) ?? "",
        /^route table rtb-\S+ has no default route to an instance; it should use one of the healthy NATs \(/,
      );
    });

    await t.step(
      "misrouting() finds nothing when each tagged table is on a healthy NAT, same zone first (a zone without a NAT on any), whatever untagged and foreign tables do",
      () => {
        route(tableA1, a1);
        route(tableA2, a2);
        for (const table of tablesByZone[zoneB] ?? []) route(table, b1);
        for (const table of tablesByZone[zoneC] ?? []) route(table, a1);
        assert.equal(misrouting(vpc, natIds), undefined);
      },
    );

    await t.step("misrouting() names a table on a NAT that is not healthy", () => {
      assert.equal(
        misrouting(vpc, [a1, b1]),
        `route table ${tableA2} points at ${a2}, not at one of the healthy NATs (${a1}, ${b1})`,
      );
    });

    await t.step("misrouting() names a table outside its zone while its zone has a NAT", () => {
      route(tableA2, b1);
      assert.equal(
        misrouting(vpc, natIds),
        `route table ${tableA2} of zone ${zoneA} points at ${b1} in ${zoneB}, ` +
          `though ${zoneA} has a healthy NAT (${a1}, ${a2})`,
      );
      route(tableA2, a2);
    });

    await t.step("misrouting() names a blackholed route", () => {
      vpc.ec2.stopInstance(a2);
      assert.equal(
        misrouting(vpc, natIds),
        `route table ${tableA2} points at ${a2}, but the route is a blackhole`,
      );
    });

    await t.step("misrouting() says so when no NAT is healthy", () => {
      assert.equal(misrouting(vpc, []), "no NAT is healthy, so no route table can point at one");
    });
  } finally {
    await vpc.close();
  }
});
