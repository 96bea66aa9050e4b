/**
 * @module The router's vocabulary, shared by every layer: NAT instances, route tables and
 * their default route, probe results, allocations and planned changes. Plain readonly
 * data in EC2's own words; no behaviour, no SDK types.
 */

/** The destination the router owns in every tagged route table. */
export const DEFAULT_ROUTE = "0.0.0.0/0";
/** Tag naming the cluster an instance or route table belongs to. */
export const TAG_CLUSTER_ID = "aws-nat-router/id";
/** Tag naming the zone of an instance (overrides its placement) or of a route table. */
export const TAG_ZONE = "aws-nat-router/zone";
/**
 * Tag marking a NAT instance as draining (it keeps forwarding, receives no route table); its
 * value is the ISO 8601 time the drain started. Read with the instances every cycle.
 */
export const TAG_DRAINING = "aws-nat-router/draining";

export interface NetworkInterface {
  readonly networkInterfaceId: string;
  /** 0 is the primary interface. */
  readonly deviceIndex: number;
  readonly sourceDestCheck: boolean;
}

/** A running NAT instance of the cluster, as discovered. */
export interface NatInstance {
  readonly instanceId: string;
  /** The `aws-nat-router/zone` tag when valid, else the placement zone. */
  readonly zone: string;
  /** Last launch, milliseconds since the epoch (EC2 gives whole seconds). */
  readonly launchTime: number;
  readonly privateIp: string | undefined;
  readonly publicIp: string | undefined;
  /** Instance-level attribute; meaningful for single-interface instances. */
  readonly sourceDestCheck: boolean;
  /** Sorted by device index; the first is the primary interface when it has index 0. */
  readonly networkInterfaces: readonly NetworkInterface[];
  /** When its `aws-nat-router/draining` mark was set (ms since the epoch); absent: no mark. */
  readonly drainingSince?: number;
  /** The subnet it runs in (the one whose egress must never be routed to a NAT). */
  readonly subnetId?: string | undefined;
}

/** What a route table's `0.0.0.0/0` route currently points at. */
export interface DefaultRoute {
  readonly instanceId: string | undefined;
  readonly networkInterfaceId: string | undefined;
  readonly natGatewayId: string | undefined;
  /** Internet gateway, virtual private gateway, or any other `gatewayId`. */
  readonly gatewayId: string | undefined;
  /** Any other target (peering, transit gateway, ...), for logs only. */
  readonly otherTarget: string | undefined;
  /** `active`, `blackhole` or `filtered`. */
  readonly state: string;
}

/** A route table of the cluster, as discovered. */
export interface RouteTable {
  readonly routeTableId: string;
  /** The `aws-nat-router/zone` tag when valid; route tables have no placement. */
  readonly zone: string | undefined;
  readonly defaultRoute: DefaultRoute | undefined;
  /** The subnets explicitly associated with it. */
  readonly subnetIds?: readonly string[];
  /** Whether it is the VPC's main route table (serving every subnet without its own). */
  readonly main?: boolean;
}

/** A healthy instance offered to the allocator. */
export interface Candidate {
  readonly instanceId: string;
  readonly zone: string;
  /**
   * Healthy again after being unhealthy, and still inside the failback hold-down: it keeps
   * what it has but gains route tables only when no settled candidate can take them.
   */
  readonly recovering: boolean;
}

/** Why a route table is (re)assigned. Stable log values: renaming one is a breaking change. */
export type MoveReason =
  | "no_route" // the table has no default route
  | "blackhole" // the default route's target is gone
  | "nat_unhealthy" // it points at a cluster NAT that is not healthy (or not running)
  | "nat_draining" // it points at a cluster NAT that is draining (still forwarding)
  | "foreign_target" // it points at something that is not a cluster NAT
  | "zone_preference" // a healthy NAT in the table's own zone can take it back
  | "rebalance"; // its NAT has more than its share

export interface Allocation {
  readonly routeTableId: string;
  readonly instanceId: string;
  /** `undefined` when the table stays where it is. */
  readonly reason: MoveReason | undefined;
}

/** A planned change of one default route, as plain data (logged, printed, asserted). */
export interface RouteChange {
  readonly action: "create" | "replace";
  readonly routeTableId: string;
  readonly destinationCidrBlock: string;
  /** Current target id (instance, gateway, ...) or `undefined` when there is no route. */
  readonly from: string | undefined;
  /** The instance the route will point at, or the fallback NAT gateway. */
  readonly to: string;
  /** The instance's primary network interface: the route's actual target. */
  readonly networkInterfaceId: string | undefined;
  /** Set instead of `networkInterfaceId` when the route goes to the fallback NAT gateway. */
  readonly natGatewayId?: string;
  readonly reason: MoveReason;
}

/** A managed NAT gateway, as `DescribeNatGateways` shows it (for `--fallback-nat-gateway`). */
export interface NatGateway {
  readonly natGatewayId: string;
  readonly vpcId: string | undefined;
  /** `pending`, `failed`, `available`, `deleting` or `deleted`. */
  readonly state: string;
  /** `public` (reaches the internet) or `private`; EC2 omits it on old gateways: public. */
  readonly connectivityType: string;
  readonly subnetId: string | undefined;
}

/** Turn source/destination checking off, on the instance or on one of its interfaces. */
export interface SourceDestCheckChange {
  readonly instanceId: string;
  /** Set for multi-interface instances, where EC2 refuses the instance-level call. */
  readonly networkInterfaceId: string | undefined;
}

export type RecoveryMode = "off" | "reboot" | "terminate";

export interface RecoveryChange {
  readonly action: "reboot" | "terminate";
  readonly instanceId: string;
  readonly unhealthyForMs: number;
}

/** A resource the core had to leave alone, with the reason (logged, never thrown). */
export interface Skipped {
  readonly resourceId: string;
  readonly reason: string;
}

/** The outcome of one TCP health probe. Failure is a value, never an exception. */
export interface ProbeResult {
  readonly instanceId: string;
  readonly healthy: boolean;
  /** Short cause for an unhealthy result: `refused`, `timeout`, `no_address`, ... */
  readonly error: string | undefined;
  readonly latencyMs: number;
}

/** How much the logger writes, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";
