/**
 * @module Shared helpers for the end-to-end tests, the demo and the benchmark: fast router
 * settings, waiting for the simulated VPC to reach a state, and the invariant every
 * scenario ends with (tagged tables on healthy NATs, nothing else touched).
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID } from "../lib/model.ts";
import { type RouterProcess, simEnv, startRouter } from "./router_process.ts";
import type { Ec2Snapshot } from "./sim/ec2_sim.ts";
import type { SimVpc, StandardVpc } from "./sim/vpc.ts";

/** The router's default timing, spelled out (the demo and the benchmark run it). */
export const DEFAULT_TIMING = [
  "--probe-interval",
  "600ms",
  "--probe-attempts",
  "12",
  "--fall",
  "1",
  "--rise",
  "2",
  "--timeout",
  "100ms",
  "--interval",
  "5s",
] as const;

/** Short periods so a scenario takes seconds (the defaults are 5s/1s/500ms/30s). */
export const FAST = [
  "--interval",
  "1s",
  "--probe-interval",
  "200ms",
  "--timeout",
  "100ms",
  "--failback-delay",
  "1s",
] as const;

/** Router arguments for a simulated VPC. */
export function routerArgs(vpc: SimVpc, extra: readonly string[] = []): string[] {
  return ["--vpc-id", vpc.vpcId, "--port", String(vpc.healthPort), ...extra];
}

/** Starts one router per NAT with `--ec2-election`, each with its own metadata service. */
export function startFleet(
  vpc: StandardVpc,
  extra: readonly string[] = FAST,
  options: { echo?: boolean; logLevel?: string } = {},
): RouterProcess[] {
  return vpc.fleet.natIds.map((id, n) =>
    startRouter({
      name: `router-${n + 1}`,
      args: routerArgs(vpc, [
        "--ec2-election",
        "--log-level",
        options.logLevel ?? "info",
        ...extra,
      ]),
      env: simEnv({ ec2: vpc.ec2Endpoint, imds: vpc.imdsEndpoint(id) }, { AWS_REGION: vpc.region }),
      ...(options.echo ? { echo: true } : {}),
    })
  );
}

/** Polls `check` every 25 ms until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs = 15_000,
): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) {
      throw new Error(`Timed out after ${timeoutMs}ms waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return performance.now() - started;
}

/** Route table id → instance id its default route points at now. */
export function targets(vpc: StandardVpc): Record<string, string | undefined> {
  return Object.fromEntries(
    vpc.fleet.routeTableIds.map((id) => [id, vpc.ec2.defaultRouteTarget(id)]),
  );
}

/** True when every tagged table's default route points at one of `healthy`, same zone first. */
export function allocatedTo(vpc: StandardVpc, healthy: readonly string[]): boolean {
  const zoneOf = (id: string) => vpc.ec2.instance(id)?.zone;
  return Object.entries(vpc.fleet.tablesByZone).every(([zone, tables]) =>
    tables.every((table) => {
      const target = vpc.ec2.defaultRouteTarget(table);
      if (target === undefined || !healthy.includes(target)) return false;
      const route = vpc.ec2.routeTable(table)?.routes.find((r) =>
        r.destinationCidrBlock === "0.0.0.0/0"
      );
      if (!route || vpc.ec2.routeState(route) !== "active") return false;
      const zoneHasHealthy = healthy.some((id) => zoneOf(id) === zone);
      return !zoneHasHealthy || zoneOf(target) === zone;
    })
  );
}

/**
 * Asserts nothing outside the router's remit changed between two snapshots: untagged
 * tables, other VPCs, routes to other destinations, local routes, instances that are not
 * cluster NATs. Tagged tables may differ only in their 0.0.0.0/0 route.
 */
export function assertOnlyOwnRoutesChanged(
  before: Ec2Snapshot,
  after: Ec2Snapshot,
  vpcId: string,
  clusterId = "squid",
): void {
  const owned = (table: Ec2Snapshot["routeTables"][number]) =>
    table.vpcId === vpcId && table.tags[TAG_CLUSTER_ID] === clusterId;
  const strip = (table: Ec2Snapshot["routeTables"][number]) =>
    owned(table)
      ? { ...table, routes: table.routes.filter((r) => r.destinationCidrBlock !== "0.0.0.0/0") }
      : table;
  const tables = (s: Ec2Snapshot) =>
    Object.fromEntries(
      s.routeTables.filter((t) => after.routeTables.some((a) => a.routeTableId === t.routeTableId))
        .map((t) => [t.routeTableId, strip(t)]),
    );
  assert.deepEqual(tables(after), tables(before), "a route the router does not own changed");
  const others = (s: Ec2Snapshot) =>
    s.instances.filter((i) => i.vpcId !== vpcId || i.tags[TAG_CLUSTER_ID] !== clusterId);
  assert.deepEqual(others(after), others(before), "an instance outside the cluster changed");
}

/** Stops every router with SIGTERM and asserts each exited 0. */
export async function stopAll(routers: readonly RouterProcess[]): Promise<void> {
  const codes = await Promise.all(routers.map((r) => r.stop()));
  codes.forEach((code, n) =>
    assert.equal(
      code,
      0,
      `${routers[n]?.name} exited ${code}; last lines:\n` +
        routers[n]?.lines.slice(-10).join("\n"),
    )
  );
}
