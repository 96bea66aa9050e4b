/**
 * @module Planning (DESIGN.md steps 5 and 7): turns allocations and discovered instances
 * into plain-data changes for the EC2 adapter, and predicts the route tables those changes
 * leave behind. Current == desired ⇒ empty plan. Pure: data in, data out.
 */
import { compareIds } from "./election.ts";
import {
  type Allocation,
  DEFAULT_ROUTE,
  type DefaultRoute,
  type MoveReason,
  type NatInstance,
  type NetworkInterface,
  type RecoveryChange,
  type RouteChange,
  type RouteTable,
  type Skipped,
  type SourceDestCheckChange,
} from "../model.ts";

/** Every change one reconcile makes, as plain data. */
export interface Plan {
  readonly routes: readonly RouteChange[];
  readonly sourceDestChecks: readonly SourceDestCheckChange[];
  readonly recoveries: readonly RecoveryChange[];
}

export const EMPTY_PLAN: Plan = { routes: [], sourceDestChecks: [], recoveries: [] };

export function isEmptyPlan(plan: Plan): boolean {
  return plan.routes.length + plan.sourceDestChecks.length + plan.recoveries.length === 0;
}

export interface RoutePlan {
  /** Sorted by route table id. */
  readonly changes: RouteChange[];
  /** Route tables left alone, with the reason. Sorted by route table id. */
  readonly skipped: Skipped[];
}

/** An allocation that moves its route table. */
type Move = Allocation & { readonly reason: MoveReason };

function isMove(allocation: Allocation): allocation is Move {
  return allocation.reason !== undefined;
}

/**
 * One create or replace of the default route per allocation that moves, pointed at the
 * instance's primary network interface; allocations that stay produce nothing.
 */
export function planRoutes(
  routeTables: readonly RouteTable[],
  allocations: readonly Allocation[],
  instances: readonly NatInstance[],
): RoutePlan {
  const tables = new Map(routeTables.map((table) => [table.routeTableId, table]));
  const byId = new Map(instances.map((instance) => [instance.instanceId, instance]));
  const plan: RoutePlan = { changes: [], skipped: [] };
  const moves = allocations
    .filter(isMove)
    .sort((a, b) => compareIds(a.routeTableId, b.routeTableId));
  for (const allocation of moves) {
    const table = tables.get(allocation.routeTableId);
    const outcome = planRoute(allocation, table, byId.get(allocation.instanceId));
    if ("action" in outcome) plan.changes.push(outcome);
    else plan.skipped.push(outcome);
  }
  return plan;
}

function planRoute(
  allocation: Move,
  table: RouteTable | undefined,
  instance: NatInstance | undefined,
): RouteChange | Skipped {
  const { routeTableId, instanceId, reason } = allocation;
  const skip = (why: string): Skipped => ({ resourceId: routeTableId, reason: why });
  if (table === undefined) {
    return skip(`Cannot route "${routeTableId}": it is not among the discovered route tables`);
  }
  if (instance === undefined) {
    return skip(
      `Cannot route to instance "${instanceId}": it is not among the discovered instances`,
    );
  }
  const networkInterfaceId = primaryInterfaceId(instance);
  if (networkInterfaceId === undefined) {
    return skip(
      `Cannot route to instance "${instanceId}": it has no primary network interface (device index 0)`,
    );
  }
  return {
    action: table.defaultRoute === undefined ? "create" : "replace",
    routeTableId,
    destinationCidrBlock: DEFAULT_ROUTE,
    from: routeTargetId(table.defaultRoute),
    to: instanceId,
    networkInterfaceId,
    reason,
  };
}

/** The id of the instance's primary network interface (device index 0), if it has one. */
export function primaryInterfaceId(instance: NatInstance): string | undefined {
  return instance.networkInterfaces.find((eni) => eni.deviceIndex === 0)?.networkInterfaceId;
}

/** What a default route points at, for logs: instance, NAT gateway, gateway, interface, other. */
export function routeTargetId(route: DefaultRoute | undefined): string | undefined {
  if (route === undefined) return undefined;
  return route.instanceId ?? route.natGatewayId ?? route.gatewayId ?? route.networkInterfaceId ??
    route.otherTarget;
}

/**
 * Source/destination checks still on: on the instance for a single-interface instance, on
 * each interface for a multi-interface one (EC2 refuses the instance-level call there).
 * Sorted by instance id, then device index.
 */
export function planSourceDestChecks(instances: readonly NatInstance[]): SourceDestCheckChange[] {
  return [...instances]
    .sort((a, b) => compareIds(a.instanceId, b.instanceId))
    .flatMap(sourceDestCheckChanges);
}

function sourceDestCheckChanges(instance: NatInstance): SourceDestCheckChange[] {
  const { instanceId, networkInterfaces } = instance;
  if (networkInterfaces.length <= 1) {
    return instance.sourceDestCheck ? [{ instanceId, networkInterfaceId: undefined }] : [];
  }
  return [...networkInterfaces]
    .sort(byDeviceIndex)
    .filter((eni) => eni.sourceDestCheck)
    .map((eni) => ({ instanceId, networkInterfaceId: eni.networkInterfaceId }));
}

function byDeviceIndex(a: NetworkInterface, b: NetworkInterface): number {
  return a.deviceIndex - b.deviceIndex || compareIds(a.networkInterfaceId, b.networkInterfaceId);
}

/**
 * The route tables as they will be once the changes succeed (EC2 reads are eventually
 * consistent, so the leader trusts what it just wrote). Same order as `routeTables`.
 */
export function applyRouteChanges(
  routeTables: readonly RouteTable[],
  changes: readonly RouteChange[],
): RouteTable[] {
  const byTable = new Map(
    changes
      .filter((change) => change.destinationCidrBlock === DEFAULT_ROUTE)
      .map((change) => [change.routeTableId, change]),
  );
  return routeTables.map((table) => {
    const change = byTable.get(table.routeTableId);
    return change === undefined ? table : { ...table, defaultRoute: routeTo(change) };
  });
}

function routeTo(change: RouteChange): DefaultRoute {
  return {
    instanceId: change.natGatewayId === undefined ? change.to : undefined,
    networkInterfaceId: change.networkInterfaceId,
    natGatewayId: change.natGatewayId,
    gatewayId: undefined,
    otherTarget: undefined,
    state: "active",
  };
}
