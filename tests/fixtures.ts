/**
 * @module Builders shared by the unit tests, so a test names only what it is about: NAT
 * instances with their primary interface, route tables, default routes, allocation
 * candidates, allocations, planned route changes, health entries, and `fakeEc2()`, an in-memory EC2 port that records its calls
 * and fails on demand. Small types take their fields in order (`routeTable(id, zone,
 * route)`); larger ones take an id and the fields that differ from the defaults.
 */
import type { Ec2, NatGatewayReader, RouteWrite } from "../lib/adapters/ec2.ts";
import type { DecideSettings } from "../lib/core/decide.ts";
import type { InstanceHealth } from "../lib/core/health.ts";
import {
  type Allocation,
  type Candidate,
  DEFAULT_ROUTE,
  type DefaultRoute,
  type MoveReason,
  type NatGateway,
  type NatInstance,
  type NetworkInterface,
  type RouteChange,
  type RouteTable,
} from "../lib/model.ts";

/**
 * What `decide()` needs from the configuration, as a unit test starts from it: no election,
 * two probes to flip health, a 30 s failback delay, no recovery, no fallback gateway, and the
 * derived windows of a 5 s `--interval`; `fields` override any of these.
 */
export function decideSettings(fields: Partial<DecideSettings> = {}): DecideSettings {
  return {
    ec2Election: false,
    fall: 2,
    rise: 2,
    failbackDelayMs: 30_000,
    probeIntervalMs: 1_000,
    recovery: "off",
    recoveryAfterMs: 60_000,
    fallbackNatGateway: undefined,
    writeTrustMs: 10_000,
    splitBackoffMs: 240_000,
    successionMs: 6_000,
    ...fields,
  };
}

/** A default route: active, no target, overridden by `fields`. */
export function route(fields: Partial<DefaultRoute> = {}): DefaultRoute {
  return {
    instanceId: undefined,
    networkInterfaceId: undefined,
    natGatewayId: undefined,
    gatewayId: undefined,
    otherTarget: undefined,
    state: "active",
    ...fields,
  };
}

/** A default route to an instance (by its id only, as EC2 shows an old route), active. */
export function routeTo(instanceId: string, fields: Partial<DefaultRoute> = {}): DefaultRoute {
  return route({ instanceId, ...fields });
}

/** A default route as EC2 shows one the router wrote: the instance and its primary interface. */
export function writtenRoute(instanceId: string): DefaultRoute {
  return routeTo(instanceId, { networkInterfaceId: primaryEni(instanceId) });
}

/** A route table of the cluster; `zone` undefined means no usable zone tag. */
export function routeTable(
  routeTableId: string,
  zone: string | undefined,
  defaultRoute?: DefaultRoute,
): RouteTable {
  return { routeTableId, zone, defaultRoute };
}

/** The name `natInstance()` gives an instance's primary interface: `i-0a1` → `eni-0a1`. */
export function primaryEni(instanceId: string): string {
  return `eni-${instanceId.replace(/^i-/, "")}`;
}

/** A network interface, source/destination check off unless said. */
export function networkInterface(
  networkInterfaceId: string,
  deviceIndex: number,
  sourceDestCheck = false,
): NetworkInterface {
  return { networkInterfaceId, deviceIndex, sourceDestCheck };
}

/**
 * A running NAT instance in zone `az-a`, launched at 0, on 127.0.0.1, source/destination
 * check off, with one primary interface (`primaryEni(instanceId)`, whose check follows the
 * instance's); `fields` override any of these.
 */
export function natInstance(
  instanceId: string,
  fields: Partial<Omit<NatInstance, "instanceId">> = {},
): NatInstance {
  const sourceDestCheck = fields.sourceDestCheck ?? false;
  return {
    instanceId,
    zone: "az-a",
    launchTime: 0,
    privateIp: "127.0.0.1",
    publicIp: undefined,
    sourceDestCheck,
    networkInterfaces: [networkInterface(primaryEni(instanceId), 0, sourceDestCheck)],
    ...fields,
  };
}

/** A healthy instance offered to the allocator; settled unless `recovering`. */
export function candidate(instanceId: string, zone = "az-a", recovering = false): Candidate {
  return { instanceId, zone, recovering };
}

/** The allocator's answer for one route table; `reason` undefined when it stays. */
export function allocation(
  routeTableId: string,
  instanceId: string,
  reason: MoveReason | undefined,
): Allocation {
  return { routeTableId, instanceId, reason };
}

/**
 * A planned change of a route table's default route to instance `to`'s primary interface:
 * a replacement of an unknown target because the NAT was unhealthy, unless `fields` say
 * otherwise.
 */
export function routeChange(
  routeTableId: string,
  to: string,
  fields: Partial<Omit<RouteChange, "routeTableId" | "to">> = {},
): RouteChange {
  return {
    action: "replace",
    routeTableId,
    destinationCidrBlock: DEFAULT_ROUTE,
    from: undefined,
    to,
    networkInterfaceId: primaryEni(to),
    reason: "nat_unhealthy",
    ...fields,
  };
}

/**
 * One instance's health entry with the verdict `healthy` (`undefined`: none yet), reached at
 * time 0 by one probe in a row: a failed one ("refused") for `false`, else a successful one.
 * `fields` override any of these.
 */
export function instanceHealth(
  healthy: boolean | undefined,
  fields: Partial<InstanceHealth> = {},
): InstanceHealth {
  return {
    healthy,
    successes: healthy === false ? 0 : 1,
    failures: healthy === false ? 1 : 0,
    since: 0,
    wasUnhealthy: healthy === false,
    wasHealthy: healthy === true,
    lastError: healthy === false ? "refused" : undefined,
    lastLatencyMs: 1,
    ...fields,
  };
}

/** A verdict reached at `since` and confirmed: two probes in a row agree. */
export function settledHealth(
  healthy: boolean | undefined,
  since: number,
  fields: Partial<InstanceHealth> = {},
): InstanceHealth {
  return instanceHealth(healthy, {
    successes: healthy ? 2 : 0,
    failures: healthy === false ? 2 : 0,
    since,
    ...fields,
  });
}

/** An in-memory EC2 port (see `fakeEc2()`). */
export interface FakeEc2 extends Ec2, NatGatewayReader {
  /** What DescribeInstances answers; read at each call, so a test may change it in between. */
  instances: readonly NatInstance[];
  /** What DescribeRouteTables answers; read at each call likewise. */
  routeTables: readonly RouteTable[];
  /** The NAT gateways DescribeNatGateways knows; read at each call likewise. */
  natGateways: readonly NatGateway[];
  /**
   * Every call made, failed ones included, in order, one line each: `DescribeInstances`,
   * `DescribeRouteTables`, `CreateRoute rtb-1 -> eni-1`, `ReplaceRoute rtb-1 -> nat-1`,
   * `DisableSourceDestCheck i-1` (or `i-1 eni-1`), `RebootInstances i-1`,
   * `TerminateInstances i-1`.
   */
  readonly calls: readonly string[];
  /** The calls that changed something in EC2 and succeeded, in order (lines as in `calls`). */
  readonly writes: readonly string[];
  /** How many calls of `action` (`DescribeInstances`, `CreateRoute`, ...) were made. */
  count(action: string): number;
  /**
   * Makes the next `times` calls named `call` fail with `error`: `call` is an action
   * (`DescribeInstances`) or an action and its resource (`CreateRoute rtb-1`). Failures
   * queued for the same call answer in order; `Infinity` fails every call from now on.
   * Returns the fake itself, to chain.
   */
  failNext(call: string, error: Error, times?: number): FakeEc2;
}

/**
 * An in-memory EC2 holding `instances` and `routeTables` (the arrays themselves, so a test
 * may change EC2 behind the router's back), recording every call; writes change nothing it
 * answers.
 */
export function fakeEc2(
  state: { instances?: readonly NatInstance[]; routeTables?: readonly RouteTable[] } = {},
): FakeEc2 {
  const calls: string[] = [];
  const writes: string[] = [];
  const failures = new Map<string, { error: Error; left: number }[]>();
  /** Records the call, then answers with a queued failure or `answer`. */
  const call = <T>(action: string, resource: string | undefined, detail: string, answer: T) => {
    const key = resource === undefined ? action : `${action} ${resource}`;
    const line = `${key}${detail}`;
    calls.push(line);
    const queued = [failures.get(key), failures.get(action)].find((q) => q && q.length > 0);
    const failure = queued?.[0];
    if (queued && failure) {
      if (--failure.left <= 0) queued.shift();
      return Promise.reject(failure.error);
    }
    if (!action.startsWith("Describe")) writes.push(line);
    return Promise.resolve(answer);
  };
  const routeWrite = (action: string) => (write: RouteWrite) =>
    call(
      action,
      write.routeTableId,
      ` -> ${write.natGatewayId ?? write.networkInterfaceId}`,
      undefined,
    );
  const fake: FakeEc2 = {
    instances: state.instances ?? [],
    routeTables: state.routeTables ?? [],
    natGateways: [],
    calls,
    writes,
    count: (action) => calls.filter((line) => line.split(" ")[0] === action).length,
    failNext(key, error, times = 1) {
      failures.set(key, [...failures.get(key) ?? [], { error, left: times }]);
      return fake;
    },
    describeInstances: () =>
      call("DescribeInstances", undefined, "", { items: fake.instances, skipped: [], calls: 1 }),
    describeRouteTables: () =>
      call("DescribeRouteTables", undefined, "", {
        items: fake.routeTables,
        skipped: [],
        calls: 1,
      }),
    explicitlyAssociated: (_vpcId, subnetIds) => {
      const associated = new Set(fake.routeTables.flatMap((t) => t.subnetIds ?? []));
      return call(
        "DescribeRouteTables",
        undefined,
        " association.subnet-id",
        new Set(subnetIds.filter((id) => associated.has(id))),
      );
    },
    describeNatGateways: (ids) =>
      call(
        "DescribeNatGateways",
        undefined,
        "",
        fake.natGateways.filter((g) => ids.includes(g.natGatewayId)),
      ),
    createRoute: routeWrite("CreateRoute"),
    replaceRoute: routeWrite("ReplaceRoute"),
    disableSourceDestCheck: (change) =>
      call(
        "DisableSourceDestCheck",
        change.instanceId,
        change.networkInterfaceId === undefined ? "" : ` ${change.networkInterfaceId}`,
        undefined,
      ),
    rebootInstance: (instanceId) => call("RebootInstances", instanceId, "", undefined),
    terminateInstance: (instanceId) => call("TerminateInstances", instanceId, "", undefined),
  };
  return fake;
}
