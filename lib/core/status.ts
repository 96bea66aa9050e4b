/**
 * @module What `aws-nat-router status` prints, pure: a `Decision` (what a cycle would see and
 * decide) → a `StatusReport` (plain data with stable keys), and that report as an aligned
 * plain-text table or as JSON. No I/O, no clock: the caller prints.
 *
 * The JSON document (keys are stable; renaming one is a breaking change):
 *
 * ```
 * { "vpcId": "vpc-…", "clusterId": "squid", "time": "2026-11-21T10:00:00Z",
 *   "leader": "i-…" | null,              // oldest healthy NAT instance
 *   "nats": [{ "instanceId", "zone", "launchTime": "…Z", "leader": bool,
 *              "health": "healthy" | "recovering" | "draining" | "unhealthy" | "unknown",
 *              "error": "refused" | "timeout" | … | null }],  // cause of the last failed probe
 *   "routeTables": [{ "routeTableId", "zone": string | null,
 *              "current": target id | null, "currentState": "active" | "blackhole" | … | null,
 *              "desired": instance id | null, "reason": move reason | null,
 *              "note": why the router leaves it alone | null }],
 *   "fallbackGateways": [{ "natGatewayId", "problem": "missing" | "not_available" |
 *              "other_vpc" | "private" | null, "detail": string | null }],
 *   "changes": { "routes": [{ "action": "create" | "replace", "routeTableId", "from": id | null,
 *                              "to", "networkInterfaceId": id | null, "reason" }],
 *                "sourceDestChecks": [{ "instanceId", "networkInterfaceId": id | null }],
 *                "recoveries": [{ "action": "reboot" | "terminate", "instanceId",
 *                                 "unhealthyForSeconds" }] } }
 * ```
 *
 * Arrays are sorted by id. `desired` equals `current` when the table stays; `reason` is set
 * only when it moves.
 */
import { isDraining } from "./drain.ts";
import { interfaceOwners, routeInstanceId } from "./allocate.ts";
import type { Decision } from "./decide.ts";
import type { MoveReason } from "../model.ts";
import { routeTargetId } from "./plan.ts";

/** `draining`: healthy, marked draining (`aws-nat-router/draining`), so given no route table. */
export type NatHealth = "healthy" | "recovering" | "draining" | "unhealthy" | "unknown";

export interface NatStatus {
  readonly instanceId: string;
  readonly zone: string;
  readonly launchTime: string;
  readonly leader: boolean;
  readonly health: NatHealth;
  readonly error: string | null;
}

export interface RouteTableStatus {
  readonly routeTableId: string;
  readonly zone: string | null;
  readonly current: string | null;
  readonly currentState: string | null;
  readonly desired: string | null;
  readonly reason: MoveReason | null;
  readonly note: string | null;
}

export interface StatusReport {
  readonly vpcId: string;
  readonly clusterId: string;
  readonly time: string;
  readonly leader: string | null;
  readonly nats: readonly NatStatus[];
  readonly routeTables: readonly RouteTableStatus[];
  /** Each `--fallback-nat-gateway`; `problem` is null when it is usable. */
  readonly fallbackGateways: readonly {
    readonly natGatewayId: string;
    readonly problem: string | null;
    readonly detail: string | null;
  }[];
  readonly changes: {
    readonly routes: readonly {
      readonly action: "create" | "replace";
      readonly routeTableId: string;
      readonly from: string | null;
      readonly to: string;
      readonly networkInterfaceId: string | null;
      readonly reason: MoveReason;
    }[];
    readonly sourceDestChecks: readonly {
      readonly instanceId: string;
      readonly networkInterfaceId: string | null;
    }[];
    readonly recoveries: readonly {
      readonly action: "reboot" | "terminate";
      readonly instanceId: string;
      readonly unhealthyForSeconds: number;
    }[];
  };
}

/** `2026-11-21T10:00:00Z`: ISO 8601, UTC, whole seconds (EC2 launch times are whole seconds). */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** When no NAT instance is healthy, a cycle leaves every route as it is. */
const NO_HEALTHY_NAT = "no healthy NAT instance: left as it is";

/** The report of what a cycle would see and decide. */
export function statusReport(
  decision: Decision,
  cluster: { readonly vpcId: string; readonly clusterId: string },
): StatusReport {
  const recovering = new Set(
    decision.candidates.filter((c) => c.recovering).map((c) => c.instanceId),
  );
  const nats: NatStatus[] = [...decision.instances]
    .sort((a, b) => byId(a.instanceId, b.instanceId))
    .map((instance) => {
      const health = decision.health.get(instance.instanceId);
      const verdict: NatHealth = health?.healthy === undefined
        ? "unknown"
        : !health.healthy
        ? "unhealthy"
        : isDraining(instance, decision.now)
        ? "draining"
        : recovering.has(instance.instanceId)
        ? "recovering"
        : "healthy";
      return {
        instanceId: instance.instanceId,
        zone: instance.zone,
        launchTime: formatTime(instance.launchTime),
        leader: instance.instanceId === decision.leader,
        health: verdict,
        error: verdict === "unhealthy" ? health?.lastError ?? null : null,
      };
    });

  // A cycle with no healthy NAT instance and no route to plan (e.g. to a fallback gateway)
  // changes nothing at all, source/dest checks included.
  const idle = decision.idle;
  const allocations = new Map(decision.allocations.map((a) => [a.routeTableId, a]));
  const skipped = new Map(decision.skipped.map((s) => [s.resourceId, s.reason]));
  const owners = interfaceOwners(decision.instances);
  const routeTables: RouteTableStatus[] = [...decision.routeTables]
    .sort((a, b) => byId(a.routeTableId, b.routeTableId))
    .map((table) => {
      const route = table.defaultRoute;
      const current = route === undefined
        ? null
        : routeInstanceId(route, owners) ?? routeTargetId(route) ?? null;
      const allocation = allocations.get(table.routeTableId);
      const note = idle ? NO_HEALTHY_NAT : skipped.get(table.routeTableId) ?? null;
      return {
        routeTableId: table.routeTableId,
        zone: table.zone ?? null,
        current,
        currentState: route?.state ?? null,
        desired: idle ? current : allocation?.instanceId ?? current,
        reason: idle ? null : allocation?.reason ?? null,
        note,
      };
    });

  const currentOf = new Map(routeTables.map((row) => [row.routeTableId, row.current]));
  const plan = decision.plan;
  return {
    vpcId: cluster.vpcId,
    clusterId: cluster.clusterId,
    time: formatTime(decision.now),
    leader: decision.leader ?? null,
    nats,
    routeTables,
    fallbackGateways: decision.gateways.map(({ natGatewayId, problem }) => ({
      natGatewayId,
      problem: problem?.reason ?? null,
      detail: problem?.detail ?? null,
    })),
    changes: {
      routes: [...plan.routes]
        .sort((a, b) => byId(a.routeTableId, b.routeTableId))
        .map((change) => ({
          action: change.action,
          routeTableId: change.routeTableId,
          // As the table shows it: a route naming only an interface names its instance.
          from: currentOf.get(change.routeTableId) ?? change.from ?? null,
          to: change.to,
          networkInterfaceId: change.networkInterfaceId ?? null,
          reason: change.reason,
        })),
      sourceDestChecks: plan.sourceDestChecks.map((change) => ({
        instanceId: change.instanceId,
        networkInterfaceId: change.networkInterfaceId ?? null,
      })),
      recoveries: plan.recoveries.map((change) => ({
        action: change.action,
        instanceId: change.instanceId,
        unhealthyForSeconds: Math.round(change.unhealthyForMs / 1000),
      })),
    },
  };
}

/** Pads every column but the last to its widest cell, two spaces apart; no trailing spaces. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, [...cell].length));
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - [...cell].length)
    )
      .join("  ")
      .trimEnd()
  );
}

const dash = (value: string | null) => value ?? "-";

function healthText(nat: NatStatus): string {
  return nat.error === null ? nat.health : `${nat.health} (${nat.error})`;
}

/** The number of changes a cycle would make. */
export function changeCount(report: StatusReport): number {
  const { routes, sourceDestChecks, recoveries } = report.changes;
  return routes.length + sourceDestChecks.length + recoveries.length;
}

/** The report as aligned plain text (no colours), without a final line feed. */
export function formatStatusTable(report: StatusReport): string {
  const nats = alignColumns([
    ["", "NAT INSTANCE", "ZONE", "LAUNCHED", "HEALTH"],
    ...report.nats.map((nat) => [
      nat.leader ? "*" : "",
      nat.instanceId,
      nat.zone,
      nat.launchTime,
      healthText(nat),
    ]),
  ]);
  const tables = alignColumns([
    ["ROUTE TABLE", "ZONE", "CURRENT", "DESIRED", "REASON"],
    ...report.routeTables.map((table) => [
      table.routeTableId,
      dash(table.zone),
      table.current === null
        ? "-"
        : table.currentState === null || table.currentState === "active"
        ? table.current
        : `${table.current} (${table.currentState})`,
      dash(table.desired),
      table.note === null ? dash(table.reason) : `${dash(table.reason)} (${table.note})`,
    ]),
  ]);
  const { routes, sourceDestChecks, recoveries } = report.changes;
  const changes = alignColumns([
    ["ACTION", "RESOURCE", "FROM", "TO", "REASON"],
    ...routes.map((c) => [c.action, c.routeTableId, dash(c.from), c.to, c.reason]),
    ...sourceDestChecks.map((c) => [
      "disable_source_dest_check",
      c.networkInterfaceId ?? c.instanceId,
      "on",
      "off",
      "nat_needs_forwarding",
    ]),
    ...recoveries.map((c) => [
      c.action,
      c.instanceId,
      "unhealthy",
      c.action === "reboot" ? "rebooted" : "terminated",
      `unhealthy_for_${c.unhealthyForSeconds}s`,
    ]),
  ]);
  const count = changeCount(report);
  const lines = [
    `VPC ${report.vpcId}  cluster ${report.clusterId}  at ${report.time}  ` +
    `leader ${dash(report.leader)} (*)`,
    "",
    ...nats,
    "",
    ...tables,
    ...report.fallbackGateways.flatMap((g) => [
      "",
      g.problem === null
        ? `Fallback NAT gateway ${g.natGatewayId}: usable`
        : `Fallback NAT gateway ${g.natGatewayId}: unusable (${g.problem}: ${g.detail}); ` +
          "no route goes to it",
    ]),
    "",
    count === 0
      ? "No changes planned: a cycle would change nothing."
      : `Changes planned (${count}):`,
    ...(count === 0 ? [] : changes),
  ];
  return lines.join("\n");
}

/** The report as JSON (two-space indent), without a final line feed. */
export function formatStatusJson(report: StatusReport): string {
  return JSON.stringify(report, null, 2);
}
