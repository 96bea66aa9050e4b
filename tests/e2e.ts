/**
 * @module Shared helpers for the end-to-end tests, the demo and the benchmark: fast router
 * settings, waiting for the simulated VPC to reach a state, and the invariant every
 * scenario ends with (`misrouting()`: tagged tables on healthy NATs, same zone first;
 * `assertOnlyOwnRoutesChanged()`: nothing else touched).
 */
import assert from "node:assert/strict";
import { DEFAULT_ROUTE, TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { type RouterProcess, simEnv, startRouter } from "./router_process.ts";
import type { Ec2Instance, Ec2RouteTable, Ec2Snapshot } from "./sim/ec2_sim.ts";
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

/** The zone pattern the router accepts in a zone tag (after trimming). */
const ZONE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** A NAT's zone as the router sees it: a valid zone tag, else its placement. */
export function natZone(instance: Ec2Instance): string {
  const tag = instance.tags[TAG_ZONE]?.trim();
  return tag !== undefined && ZONE.test(tag) ? tag : instance.zone;
}

/** A route table's zone as the router sees it: a valid zone tag, else none. */
export function tableZone(table: Ec2RouteTable): string | undefined {
  const tag = table.tags[TAG_ZONE]?.trim();
  return tag !== undefined && ZONE.test(tag) ? tag : undefined;
}

/** The route tables of the cluster in the VPC, as the simulator has them now. */
export function ownedTables(vpc: SimVpc, clusterId = "squid"): Ec2RouteTable[] {
  return vpc.ec2.routeTables().filter((t) =>
    t.vpcId === vpc.vpcId && t.tags[TAG_CLUSTER_ID] === clusterId
  );
}

/**
 * The end-state invariant of every scenario, as the router reads the tags: each route table
 * of the cluster in the VPC has an active default route to one of the `healthy` NATs, and to
 * one in its own zone when that zone has a healthy NAT. Returns `undefined` when it holds,
 * else a sentence naming the first route table that breaks it and how.
 */
export function misrouting(
  vpc: SimVpc,
  healthy: readonly string[],
  clusterId = "squid",
): string | undefined {
  if (healthy.length === 0) return "no NAT is healthy, so no route table can point at one";
  const zones = new Map(healthy.map((id) => {
    const instance = vpc.ec2.instance(id);
    assert.ok(instance, `misrouting() was given ${id}, which is not an instance of the simulator`);
    return [id, natZone(instance)] as const;
  }));
  const names = `the healthy NATs (${healthy.join(", ")})`;
  for (const table of ownedTables(vpc, clusterId)) {
    const id = table.routeTableId;
    // The route in effect: the static one wins over a propagated one.
    const route = vpc.ec2.effectiveRoute(id, DEFAULT_ROUTE);
    const target = vpc.ec2.defaultRouteTarget(id);
    if (!route || target === undefined) {
      return `route table ${id} has no default route to an instance; it should use one of ${names}`;
    }
    if (!zones.has(target)) return `route table ${id} points at ${target}, not at one of ${names}`;
    if (vpc.ec2.routeState(route) !== "active") {
      return `route table ${id} points at ${target}, but the route is a blackhole`;
    }
    const zone = tableZone(table);
    const sameZone = healthy.filter((nat) => zones.get(nat) === zone);
    if (zone !== undefined && sameZone.length > 0 && zones.get(target) !== zone) {
      return `route table ${id} of zone ${zone} points at ${target} in ${zones.get(target)}, ` +
        `though ${zone} has a healthy NAT (${sameZone.join(", ")})`;
    }
  }
  return undefined;
}

/**
 * Waits until `misrouting()` finds nothing wrong; on timeout the error says `what` was
 * awaited and which route table is still wrong.
 */
export async function waitUntilRouted(
  what: string,
  vpc: SimVpc,
  healthy: readonly string[],
  options: { readonly clusterId?: string; readonly timeoutMs?: number } = {},
): Promise<number> {
  const problem = () => misrouting(vpc, healthy, options.clusterId);
  try {
    return await waitUntil(what, () => problem() === undefined, options.timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${problem()}`);
  }
}

/**
 * Asserts nothing outside the router's remit changed between two snapshots: untagged
 * tables, other VPCs, routes to other destinations, local routes, instances that are not
 * cluster NATs. Tagged tables may differ only in their static 0.0.0.0/0 route (a
 * propagated one is not the router's).
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
      ? {
        ...table,
        routes: table.routes.filter((r) =>
          r.destinationCidrBlock !== "0.0.0.0/0" || r.origin === "EnableVgwRoutePropagation"
        ),
      }
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

/** A loopback TCP port free right now (for a listener the program under test opens). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
