/**
 * @module The managed NAT gateway as a last resort (`--fallback-nat-gateway`). When no NAT
 * instance is healthy, a route table's default route goes to the fallback gateway of its
 * zone (or the default one); it stays there until a NAT instance is healthy and settled
 * (past `--rise` and `--failback-delay`), then the normal allocation takes it back. Pure.
 */
import type { FallbackNatGateway } from "./parse.ts";
import { compareIds } from "./election.ts";
import type { Allocation, MoveReason, NatGateway, RouteChange, RouteTable } from "../model.ts";
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

/** Every gateway id `--fallback-nat-gateway` names, sorted, once each. */
export function fallbackGatewayIds(fallback: FallbackNatGateway): string[] {
  const ids = [
    ...(fallback.default !== undefined ? [fallback.default] : []),
    ...Object.values(fallback.byZone),
  ];
  return [...new Set(ids)].sort(compareIds);
}

/** Why a configured fallback gateway cannot carry a table's egress. */
export interface GatewayProblem {
  readonly natGatewayId: string;
  /** `missing`, `not_available`, `other_vpc` or `private`: a metric/log label. */
  readonly reason: "missing" | "not_available" | "other_vpc" | "private";
  /** For people: what EC2 shows. */
  readonly detail: string;
}

/**
 * Judges each configured gateway against what `DescribeNatGateways` returned: it must exist,
 * be `available`, be in the VPC, and have public connectivity (a private NAT gateway has no
 * path to the internet). A regional NAT gateway is one id for the whole VPC: the bare
 * default. Sorted by gateway id; empty when every gateway is usable.
 */
export function checkFallbackGateways(
  fallback: FallbackNatGateway,
  vpcId: string,
  found: readonly NatGateway[],
): GatewayProblem[] {
  const byId = new Map(found.map((g) => [g.natGatewayId, g]));
  return fallbackGatewayIds(fallback).flatMap((natGatewayId): GatewayProblem[] => {
    const gateway = byId.get(natGatewayId);
    if (gateway === undefined) {
      return [{ natGatewayId, reason: "missing", detail: "EC2 does not know it in this region" }];
    }
    if (gateway.state !== "available") {
      return [{
        natGatewayId,
        reason: "not_available",
        detail: `it is "${gateway.state}", not "available"`,
      }];
    }
    if (gateway.vpcId !== vpcId) {
      return [{
        natGatewayId,
        reason: "other_vpc",
        detail: `it is in "${gateway.vpcId ?? "no VPC"}", not "${vpcId}"`,
      }];
    }
    if (gateway.connectivityType !== "public") {
      return [{
        natGatewayId,
        reason: "private",
        detail: `it has "${gateway.connectivityType}" connectivity: it cannot reach the internet`,
      }];
    }
    return [];
  });
}

/** The one-line bad-input message for the first problem at start. */
export function fallbackGatewayError(problems: readonly GatewayProblem[], vpcId: string): string {
  const [first] = problems;
  if (first === undefined) return "";
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return `Unusable --fallback-nat-gateway "${first.natGatewayId}": ${first.detail}${more}; ` +
    `pass an available public NAT gateway of ${vpcId}, or drop --fallback-nat-gateway`;
}

/**
 * The fallback with only the usable gateways: an unusable zone gateway is dropped (its
 * tables use the default gateway, if that one is usable), an unusable default too. The
 * router then never writes a route to a gateway it found unusable. `undefined` when none is
 * left.
 */
export function usableFallback(
  fallback: FallbackNatGateway | undefined,
  unusable: ReadonlySet<string>,
): FallbackNatGateway | undefined {
  if (fallback === undefined || unusable.size === 0) return fallback;
  const byZone = Object.fromEntries(
    Object.entries(fallback.byZone).filter(([, id]) => !unusable.has(id)),
  );
  const fallbackDefault = fallback.default !== undefined && !unusable.has(fallback.default)
    ? fallback.default
    : undefined;
  if (fallbackDefault === undefined && Object.keys(byZone).length === 0) return undefined;
  return { default: fallbackDefault, byZone };
}

/** Tables no fallback gateway covers (zone not mapped, no default): worth a warning. */
export function uncoveredTables(
  routeTables: readonly RouteTable[],
  fallback: FallbackNatGateway,
): string[] {
  return routeTables.filter((table) => fallbackFor(table, fallback) === undefined)
    .map((table) => table.routeTableId).sort(compareIds);
}
