/**
 * @module The managed NAT gateway as a last resort (`--fallback-nat-gateway`). When no NAT
 * instance is healthy, a route table's default route goes to the fallback gateway of its
 * zone (or the default one); it stays there until a NAT instance is healthy and settled
 * (past `--rise` and `--failback-delay`), then the normal allocation takes it back. Pure.
 */
import type { FallbackNatGateway } from "./parse.ts";
import { compareIds } from "./election.ts";
import type { Allocation, MoveReason, RouteChange, RouteTable } from "../model.ts";
import { DEFAULT_ROUTE } from "../model.ts";
import { routeTargetId } from "./plan.ts";

/** The fallback gateway for a route table, if any. */
export function fallbackFor(
  table: RouteTable,
  fallback: FallbackNatGateway,
): string | undefined {
  return (table.zone !== undefined ? fallback.byZone[table.zone] : undefined) ?? fallback.default;
}

function onGateway(table: RouteTable, gateway: string | undefined): boolean {
  const route = table.defaultRoute;
  return gateway !== undefined && route?.natGatewayId === gateway && route.state !== "blackhole";
}

function whyMove(table: RouteTable): MoveReason {
  const route = table.defaultRoute;
  if (!route) return "no_route";
  return route.state === "blackhole" ? "blackhole" : "nat_unhealthy";
}

/**
 * Adjusts the allocation for the fallback: tables without any allocation (no candidate at
 * all) get a change to their gateway; tables already on their gateway keep it while no
 * candidate is settled (`anySettled` false). Returns the allocations to plan as usual and
 * the gateway changes, sorted by route table id.
 */
export function applyFallback(
  routeTables: readonly RouteTable[],
  allocations: readonly Allocation[],
  anySettled: boolean,
  fallback: FallbackNatGateway | undefined,
): { allocations: Allocation[]; gatewayChanges: RouteChange[] } {
  if (!fallback) return { allocations: [...allocations], gatewayChanges: [] };
  const allocated = new Map(allocations.map((a) => [a.routeTableId, a]));
  const kept = new Set<string>();
  const gatewayChanges: RouteChange[] = [];
  for (const table of routeTables) {
    const gateway = fallbackFor(table, fallback);
    if (gateway === undefined) continue;
    if (allocated.has(table.routeTableId)) {
      if (!anySettled && onGateway(table, gateway)) kept.add(table.routeTableId);
    } else if (!onGateway(table, gateway)) {
      gatewayChanges.push({
        action: table.defaultRoute ? "replace" : "create",
        routeTableId: table.routeTableId,
        destinationCidrBlock: DEFAULT_ROUTE,
        from: routeTargetId(table.defaultRoute),
        to: gateway,
        networkInterfaceId: undefined,
        natGatewayId: gateway,
        reason: whyMove(table),
      });
    }
  }
  gatewayChanges.sort((a, b) => compareIds(a.routeTableId, b.routeTableId));
  return {
    allocations: allocations.filter((a) => !kept.has(a.routeTableId)),
    gatewayChanges,
  };
}
