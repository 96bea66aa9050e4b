/**
 * @module The heartbeat's content, decided purely: from what the controller believes (NAT
 * instances, their health, route tables, the leader) and when the last cycle succeeded, the
 * plain summary a `router.heartbeat` line carries, and its log fields. A table is *on target*
 * when its default route is active and points at a healthy NAT instance of the cluster.
 */
import { interfaceOwners, routeInstanceId } from "./allocate.ts";
import type { HealthState } from "./health.ts";
import type { NatInstance, RouteTable } from "../model.ts";

/** What the controller believes now (structurally `Controller.view()`). */
export interface HeartbeatView {
  readonly instances: readonly NatInstance[];
  readonly routeTables: readonly RouteTable[];
  readonly health: HealthState;
  readonly leader: string | undefined;
}

/** One heartbeat, as plain data. */
export interface HeartbeatSummary {
  readonly leader: string | undefined;
  readonly natInstances: number;
  readonly healthyNats: number;
  readonly routeTables: number;
  /** Route tables whose default route is active and on a healthy NAT instance. */
  readonly tablesOnTarget: number;
  /** When the last cycle completed without a failure; `undefined`: none yet. */
  readonly lastOkCycleAt: number | undefined;
}

export function heartbeatSummary(
  view: HeartbeatView,
  lastOkCycleAt: number | undefined,
): HeartbeatSummary {
  const healthy = new Set(
    view.instances.filter((i) => view.health.get(i.instanceId)?.healthy === true)
      .map((i) => i.instanceId),
  );
  const owners = interfaceOwners(view.instances);
  const onTarget = view.routeTables.filter(({ defaultRoute }) => {
    if (defaultRoute === undefined || defaultRoute.state !== "active") return false;
    const target = routeInstanceId(defaultRoute, owners);
    return target !== undefined && healthy.has(target);
  });
  return {
    leader: view.leader,
    natInstances: view.instances.length,
    healthyNats: healthy.size,
    routeTables: view.routeTables.length,
    tablesOnTarget: onTarget.length,
    lastOkCycleAt,
  };
}

/** The `router.heartbeat` fields: stable keys, times as ISO 8601 and whole seconds ago. */
export function heartbeatFields(
  summary: HeartbeatSummary,
  now: number,
): Record<string, string | number | undefined> {
  const at = summary.lastOkCycleAt;
  return {
    leader: summary.leader,
    nat_instances: summary.natInstances,
    healthy_nats: summary.healthyNats,
    route_tables: summary.routeTables,
    tables_on_target: summary.tablesOnTarget,
    last_ok_cycle: at === undefined ? undefined : new Date(at).toISOString(),
    last_ok_cycle_age_s: at === undefined ? undefined : Math.max(0, Math.floor((now - at) / 1000)),
  };
}
