/**
 * @module The state of the simulated EC2 region (VPCs, subnets, instances and their network
 * interfaces, route tables) and the test-side controls that change it behind the router's
 * back. The Query API over it is `ec2_actions.ts`; the HTTP front is `ec2_server.ts`.
 *
 * Modelled on what EC2 does: a route's state is computed when it is read (`blackhole` while
 * its target instance is stopped or terminated or its interface is gone, `active` while the
 * instance is only stopping or shutting down); a route written with an instance id or an
 * interface id stores both; the instance-level sourceDestCheck is its primary interface's; a
 * terminated instance's interfaces are deleted with it, and the API shows it without
 * addresses, interfaces, subnet or VPC (so a `vpc-id` filter no longer finds it); launch times have
 * whole seconds. Ids are random hex from a seeded generator: reproducible, in no useful order.
 * Objects returned by the accessors are live: change them only through the controls.
 */

import { type Random, randomHex, seededRandom } from "./random.ts";

export const ACCOUNT_ID = "123456789012";

export type InstanceStateName =
  | "pending"
  | "running"
  | "shutting-down"
  | "terminated"
  | "stopping"
  | "stopped";

export const INSTANCE_STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export type Tags = Record<string, string>;

export interface Ec2Vpc {
  vpcId: string;
  cidrBlock: string;
}

export interface Ec2Subnet {
  subnetId: string;
  vpcId: string;
  zone: string;
}

export interface Ec2NetworkInterface {
  networkInterfaceId: string;
  attachmentId: string;
  /** 0 is the primary interface. */
  deviceIndex: number;
  sourceDestCheck: boolean;
  privateIp?: string;
}

export interface Ec2Instance {
  instanceId: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  vpcId: string;
  subnetId: string;
  zone: string;
  state: InstanceStateName;
  /** Milliseconds since the epoch, whole seconds. */
  launchTime: number;
  privateIp?: string;
  publicIp?: string;
  /** In device-index order. */
  networkInterfaces: Ec2NetworkInterface[];
  tags: Tags;
}

export const ROUTE_DESTINATIONS = [
  "destinationCidrBlock",
  "destinationIpv6CidrBlock",
  "destinationPrefixListId",
] as const;
export const ROUTE_TARGETS = [
  "instanceId",
  "networkInterfaceId",
  "gatewayId",
  "natGatewayId",
  "vpcPeeringConnectionId",
  "transitGatewayId",
] as const;
export type RouteDestinationKey = typeof ROUTE_DESTINATIONS[number];
export type RouteTargetKey = typeof ROUTE_TARGETS[number];
/** One destination and (normally) one target, in EC2's element names. */
export type RouteSpec = { [K in RouteDestinationKey | RouteTargetKey]?: string };

/**
 * Where a route came from: the table's local route, a static route written with
 * CreateRoute/ReplaceRoute, or a route propagated by a virtual private gateway. A propagated
 * route may share its destination with a static one; the static one then wins (EC2's route
 * priority), and CreateRoute/ReplaceRoute only ever see the static one.
 */
export type RouteOrigin = "CreateRouteTable" | "CreateRoute" | "EnableVgwRoutePropagation";

export interface Ec2Route extends RouteSpec {
  origin: RouteOrigin;
}

/** A route a virtual private gateway propagated: read-only to the route API. */
export const isPropagated = (route: Ec2Route): boolean =>
  route.origin === "EnableVgwRoutePropagation";

/** EC2's NAT gateway states (`DescribeNatGateways`' `state` filter lists the same). */
export type NatGatewayState = "pending" | "failed" | "available" | "deleting" | "deleted";

/** A managed NAT gateway: public (with an Elastic IP) or private (no internet). */
export interface Ec2NatGateway {
  natGatewayId: string;
  vpcId: string;
  subnetId: string;
  state: NatGatewayState;
  connectivityType: "public" | "private";
  /** Milliseconds since the epoch. */
  createTime: number;
  tags: Tags;
}

export interface AddNatGatewaySpec {
  readonly vpcId: string;
  /** Default: the VPC's subnet in `zone` (created when missing). */
  readonly zone?: string;
  /** Default `available`. */
  readonly state?: NatGatewayState;
  /** Default `public`. */
  readonly connectivityType?: "public" | "private";
  /** A fixed id (tests that name the gateway); default a new random one. */
  readonly natGatewayId?: string;
  readonly tags?: Tags;
}

export interface Ec2Association {
  routeTableAssociationId: string;
  main: boolean;
  subnetId?: string;
}

export interface Ec2RouteTable {
  routeTableId: string;
  vpcId: string;
  tags: Tags;
  routes: Ec2Route[];
  associations: Ec2Association[];
}

export type RouteState = "active" | "blackhole";

/** One route written through the API, for benchmarks measuring when a route moved. */
export interface RouteWrite {
  /** Wall clock, milliseconds since the epoch. */
  readonly time: number;
  readonly action: "CreateRoute" | "ReplaceRoute";
  readonly routeTableId: string;
  readonly destination: string;
  readonly instanceId?: string;
  readonly networkInterfaceId?: string;
}

/** An instance changed state (through the API or a control), or was rebooted. */
export interface InstanceEvent {
  readonly type: "state" | "rebooted";
  readonly instanceId: string;
  readonly state: InstanceStateName;
  readonly previousState: InstanceStateName;
}

/** A deep, JSON-comparable copy of the whole state. */
export interface Ec2Snapshot {
  readonly vpcs: readonly Ec2Vpc[];
  readonly subnets: readonly Ec2Subnet[];
  readonly instances: readonly Ec2Instance[];
  readonly routeTables: readonly Ec2RouteTable[];
}

export interface Ec2SimOptions {
  /** Seed of the id generator (default 1). */
  readonly seed?: number;
  /** The clock for launch times (default `Date.now`); also settable later as `sim.now`. */
  readonly now?: () => number;
}

export interface AddInstanceSpec {
  readonly vpcId: string;
  readonly zone: string;
  /** Default: the VPC's subnet in that zone, created when missing. */
  readonly subnetId?: string;
  readonly tags?: Tags;
  /** Default: now; rounded down to whole seconds. */
  readonly launchTime?: number | Date;
  readonly state?: InstanceStateName;
  readonly privateIp?: string;
  readonly publicIp?: string;
  /** How many network interfaces (default 1). */
  readonly interfaces?: number;
  /** For every interface (default true, as EC2 launches them). */
  readonly sourceDestCheck?: boolean;
  readonly imageId?: string;
  readonly instanceType?: string;
}

export interface AddRouteTableSpec {
  readonly vpcId: string;
  readonly tags?: Tags;
  /** Besides the local route, which every table gets. */
  readonly routes?: readonly RouteSpec[];
  readonly subnetIds?: readonly string[];
  /** Make it the VPC's main route table (moving the main association). */
  readonly main?: boolean;
}

export function routeDestination(route: RouteSpec): string | undefined {
  return route.destinationCidrBlock ?? route.destinationIpv6CidrBlock ??
    route.destinationPrefixListId;
}

/** The id a route points at: the instance when there is one, else its first target. */
export function routeTarget(route: RouteSpec): string | undefined {
  for (const key of ROUTE_TARGETS) if (route[key] !== undefined) return route[key];
  return undefined;
}

const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

export class Ec2Sim {
  /** The clock for launch times: replace it to control them. */
  now: () => number;
  /** Every route written through CreateRoute/ReplaceRoute, in order. */
  readonly routeWrites: RouteWrite[] = [];
  readonly #random: Random;
  readonly #order = new Map<string, number>();
  readonly #vpcs = new Map<string, Ec2Vpc>();
  readonly #subnets = new Map<string, Ec2Subnet>();
  readonly #instances = new Map<string, Ec2Instance>();
  readonly #routeTables = new Map<string, Ec2RouteTable>();
  readonly #natGateways = new Map<string, Ec2NatGateway>();
  readonly #listeners = new Set<(event: InstanceEvent) => void>();

  constructor(options: Ec2SimOptions = {}) {
    this.#random = seededRandom(options.seed ?? 1);
    this.now = options.now ?? Date.now;
  }

  /** A new unique id such as `i-0f3a…` (17 hex digits). */
  newId(prefix: string): string {
    for (;;) {
      const id = `${prefix}-${randomHex(this.#random, 17)}`;
      if (this.#order.has(id)) continue;
      this.#order.set(id, this.#order.size);
      return id;
    }
  }

  /** Creation rank of a resource: Describe* list in this order and page by it. */
  order(id: string): number {
    return this.#order.get(id) ?? -1;
  }

  // Reads.

  vpc(vpcId: string): Ec2Vpc | undefined {
    return this.#vpcs.get(vpcId);
  }

  subnet(subnetId: string): Ec2Subnet | undefined {
    return this.#subnets.get(subnetId);
  }

  instance(instanceId: string): Ec2Instance | undefined {
    return this.#instances.get(instanceId);
  }

  instances(): Ec2Instance[] {
    return [...this.#instances.values()];
  }

  routeTable(routeTableId: string): Ec2RouteTable | undefined {
    return this.#routeTables.get(routeTableId);
  }

  routeTables(): Ec2RouteTable[] {
    return [...this.#routeTables.values()];
  }

  natGateway(natGatewayId: string): Ec2NatGateway | undefined {
    return this.#natGateways.get(natGatewayId);
  }

  natGateways(): Ec2NatGateway[] {
    return [...this.#natGateways.values()];
  }

  /** An interface and its instance; none once the instance is terminated (deleted with it). */
  networkInterface(
    networkInterfaceId: string,
  ): { instance: Ec2Instance; networkInterface: Ec2NetworkInterface } | undefined {
    for (const instance of this.#instances.values()) {
      if (instance.state === "terminated") continue;
      const found = instance.networkInterfaces.find((n) =>
        n.networkInterfaceId === networkInterfaceId
      );
      if (found) return { instance, networkInterface: found };
    }
    return undefined;
  }

  /** `blackhole` when the route's target instance is stopped or terminated or its interface is gone. */
  routeState(route: RouteSpec): RouteState {
    if (route.networkInterfaceId === undefined && route.instanceId === undefined) return "active";
    const owner = route.networkInterfaceId !== undefined
      ? this.networkInterface(route.networkInterfaceId)?.instance
      : this.#instances.get(route.instanceId ?? "");
    return owner && owner.state !== "stopped" && owner.state !== "terminated"
      ? "active"
      : "blackhole";
  }

  /**
   * The route traffic to `destination` takes: the static one when there is one, else a
   * propagated one (EC2's route priority for routes to the same destination).
   */
  effectiveRoute(routeTableId: string, destination: string): Ec2Route | undefined {
    const routes =
      this.#routeTables.get(routeTableId)?.routes.filter((r) =>
        routeDestination(r) === destination
      ) ?? [];
    return routes.find((r) => !isPropagated(r)) ?? routes[0];
  }

  /**
   * The target (instance id, else interface, gateway, ... id) of the table's effective
   * 0.0.0.0/0 route: the static one, else a propagated one.
   */
  defaultRouteTarget(routeTableId: string): string | undefined {
    const route = this.effectiveRoute(routeTableId, "0.0.0.0/0");
    return route && routeTarget(route);
  }

  snapshot(): Ec2Snapshot {
    return JSON.parse(JSON.stringify({
      vpcs: [...this.#vpcs.values()],
      subnets: [...this.#subnets.values()],
      instances: [...this.#instances.values()],
      routeTables: [...this.#routeTables.values()],
    }));
  }

  // Controls.

  addVpc(options: { readonly cidrBlock?: string } = {}): string {
    const vpcId = this.newId("vpc");
    this.#vpcs.set(vpcId, { vpcId, cidrBlock: options.cidrBlock ?? "10.0.0.0/16" });
    return vpcId;
  }

  addSubnet(vpcId: string, zone: string): string {
    this.#mustGet(this.#vpcs, vpcId, "VPC");
    const subnetId = this.newId("subnet");
    this.#subnets.set(subnetId, { subnetId, vpcId, zone });
    return subnetId;
  }

  addInstance(spec: AddInstanceSpec): string {
    this.#mustGet(this.#vpcs, spec.vpcId, "VPC");
    const subnetId = spec.subnetId ?? this.#subnetIn(spec.vpcId, spec.zone);
    const instanceId = this.newId("i");
    const networkInterfaces = Array.from({ length: spec.interfaces ?? 1 }, (_, deviceIndex) => ({
      networkInterfaceId: this.newId("eni"),
      attachmentId: this.newId("eni-attach"),
      deviceIndex,
      sourceDestCheck: spec.sourceDestCheck ?? true,
      ...(deviceIndex === 0 && spec.privateIp !== undefined ? { privateIp: spec.privateIp } : {}),
    }));
    this.#instances.set(instanceId, {
      instanceId,
      reservationId: this.newId("r"),
      imageId: spec.imageId ?? "ami-0123456789abcdef0",
      instanceType: spec.instanceType ?? "t4g.nano",
      vpcId: spec.vpcId,
      subnetId,
      zone: spec.zone,
      state: spec.state ?? "running",
      launchTime: wholeSeconds(new Date(spec.launchTime ?? this.now()).getTime()),
      ...(spec.privateIp !== undefined ? { privateIp: spec.privateIp } : {}),
      ...(spec.publicIp !== undefined ? { publicIp: spec.publicIp } : {}),
      networkInterfaces,
      tags: { ...spec.tags },
    });
    return instanceId;
  }

  addRouteTable(spec: AddRouteTableSpec): string {
    const vpc = this.#mustGet(this.#vpcs, spec.vpcId, "VPC");
    const routeTableId = this.newId("rtb");
    this.#routeTables.set(routeTableId, {
      routeTableId,
      vpcId: vpc.vpcId,
      tags: { ...spec.tags },
      routes: [{
        destinationCidrBlock: vpc.cidrBlock,
        gatewayId: "local",
        origin: "CreateRouteTable",
      }],
      associations: [],
    });
    for (const route of spec.routes ?? []) this.setRoute(routeTableId, route);
    if (spec.main) this.#associate(routeTableId, undefined);
    for (const subnetId of spec.subnetIds ?? []) this.#associate(routeTableId, subnetId);
    return routeTableId;
  }

  /** A managed NAT gateway in a subnet of the VPC (`available` and `public` by default). */
  addNatGateway(spec: AddNatGatewaySpec): string {
    this.#mustGet(this.#vpcs, spec.vpcId, "VPC");
    const natGatewayId = spec.natGatewayId ?? this.newId("nat");
    if (spec.natGatewayId !== undefined) this.#order.set(natGatewayId, this.#order.size);
    this.#natGateways.set(natGatewayId, {
      natGatewayId,
      vpcId: spec.vpcId,
      subnetId: this.#subnetIn(spec.vpcId, spec.zone ?? "us-east-1a"),
      state: spec.state ?? "available",
      connectivityType: spec.connectivityType ?? "public",
      createTime: wholeSeconds(this.now()),
      tags: { ...spec.tags },
    });
    return natGatewayId;
  }

  /**
   * Sets a NAT gateway's state, as EC2 moves it (`pending` → `available`, or `deleting` →
   * `deleted`, when it stays visible for about an hour). Routes to a `deleted` gateway are
   * `blackhole`.
   */
  setNatGatewayState(natGatewayId: string, state: NatGatewayState): void {
    this.#mustGet(this.#natGateways, natGatewayId, "NAT gateway").state = state;
  }

  /** Set the state as is (no other effect); tells the instance-event listeners. */
  setInstanceState(instanceId: string, state: InstanceStateName): void {
    const instance = this.#mustGet(this.#instances, instanceId, "instance");
    const previousState = instance.state;
    instance.state = state;
    this.#emit({ type: "state", instanceId, state, previousState });
  }

  stopInstance(instanceId: string): void {
    this.setInstanceState(instanceId, "stopped");
  }

  /** Running again, with a new launch time (now). */
  startInstance(instanceId: string): void {
    this.#mustGet(this.#instances, instanceId, "instance").launchTime = wholeSeconds(this.now());
    this.setInstanceState(instanceId, "running");
  }

  terminateInstance(instanceId: string): void {
    this.setInstanceState(instanceId, "terminated");
  }

  /** Tells the instance-event listeners (the NAT goes away for a moment); the state stays. */
  rebootInstance(instanceId: string): void {
    const { state } = this.#mustGet(this.#instances, instanceId, "instance");
    this.#emit({ type: "rebooted", instanceId, state, previousState: state });
  }

  /**
   * Create or replace the route for the spec's destination, without any validation. With an
   * instance id it also stores the primary interface, and the other way round, as EC2 does.
   * A propagated route and a static one to the same destination live side by side: each
   * replaces only a route of its own kind.
   */
  setRoute(
    routeTableId: string,
    spec: RouteSpec,
    origin: RouteOrigin = "CreateRoute",
  ): void {
    const table = this.#mustGet(this.#routeTables, routeTableId, "route table");
    const destination = routeDestination(spec);
    if (destination === undefined) {
      throw new Error(`Route without destination: ${JSON.stringify(spec)}`);
    }
    const route: Ec2Route = { ...this.#completeTarget(spec), origin };
    const propagated = isPropagated(route);
    const index = table.routes.findIndex((r) =>
      routeDestination(r) === destination && isPropagated(r) === propagated
    );
    if (index < 0) table.routes.push(route);
    else table.routes[index] = route;
  }

  /** `setRoute` as CreateRoute/ReplaceRoute do it, recorded in `routeWrites`. */
  writeRoute(action: RouteWrite["action"], routeTableId: string, spec: RouteSpec): void {
    this.setRoute(routeTableId, spec);
    const { instanceId, networkInterfaceId } = this.#completeTarget(spec);
    this.routeWrites.push({
      time: Date.now(),
      action,
      routeTableId,
      destination: routeDestination(spec) ?? "",
      ...(instanceId !== undefined ? { instanceId } : {}),
      ...(networkInterfaceId !== undefined ? { networkInterfaceId } : {}),
    });
  }

  /**
   * A virtual private gateway propagates a route to `destination` (a VPN's BGP route, or a
   * default route from on premises): origin `EnableVgwRoutePropagation`, next to any static
   * route to the same destination.
   */
  propagateRoute(routeTableId: string, destination: string, vgwId: string): void {
    this.setRoute(
      routeTableId,
      { destinationCidrBlock: destination, gatewayId: vgwId },
      "EnableVgwRoutePropagation",
    );
  }

  /** Withdraws a propagated route; returns whether there was one. */
  withdrawPropagatedRoute(routeTableId: string, destination: string): boolean {
    const table = this.#mustGet(this.#routeTables, routeTableId, "route table");
    const before = table.routes.length;
    table.routes = table.routes.filter((r) =>
      !(routeDestination(r) === destination && isPropagated(r))
    );
    return table.routes.length < before;
  }

  /** Deletes the static route (as DeleteRoute does; a propagated one stays). */
  deleteRoute(routeTableId: string, destination: string): boolean {
    const table = this.#mustGet(this.#routeTables, routeTableId, "route table");
    const before = table.routes.length;
    table.routes = table.routes.filter((r) =>
      routeDestination(r) !== destination || isPropagated(r)
    );
    return table.routes.length < before;
  }

  deleteRouteTable(routeTableId: string): void {
    this.#mustGet(this.#routeTables, routeTableId, "route table");
    this.#routeTables.delete(routeTableId);
  }

  /** Add or overwrite tags of an instance or a route table. */
  setTags(resourceId: string, tags: Tags): void {
    Object.assign(this.#tagged(resourceId).tags, tags);
  }

  deleteTags(resourceId: string, keys: readonly string[]): void {
    const tagged = this.#tagged(resourceId);
    for (const key of keys) delete tagged.tags[key];
  }

  /** On an instance (its primary interface) or on one interface (by its `eni-` id). */
  setSourceDestCheck(id: string, value: boolean): void {
    const instance = this.#instances.get(id);
    const target = instance
      ? instance.networkInterfaces.find((n) => n.deviceIndex === 0)
      : this.networkInterface(id)?.networkInterface;
    if (!target) throw new Error(`No instance or network interface "${id}" in the simulator`);
    target.sourceDestCheck = value;
  }

  /** Returns a function that unsubscribes. */
  onInstanceEvent(listener: (event: InstanceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: InstanceEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #completeTarget(spec: RouteSpec): RouteSpec {
    if (spec.instanceId !== undefined && spec.networkInterfaceId === undefined) {
      const primary = this.#instances.get(spec.instanceId)?.networkInterfaces[0];
      if (primary) return { ...spec, networkInterfaceId: primary.networkInterfaceId };
    }
    if (spec.networkInterfaceId !== undefined && spec.instanceId === undefined) {
      const owner = this.networkInterface(spec.networkInterfaceId)?.instance;
      if (owner) return { ...spec, instanceId: owner.instanceId };
    }
    return spec;
  }

  #subnetIn(vpcId: string, zone: string): string {
    for (const subnet of this.#subnets.values()) {
      if (subnet.vpcId === vpcId && subnet.zone === zone) return subnet.subnetId;
    }
    return this.addSubnet(vpcId, zone);
  }

  /** Associate a subnet (or, with `undefined`, the VPC's main association), moving it. */
  #associate(routeTableId: string, subnetId: string | undefined): void {
    const table = this.#mustGet(this.#routeTables, routeTableId, "route table");
    if (subnetId !== undefined) this.#mustGet(this.#subnets, subnetId, "subnet");
    const same = (a: Ec2Association) => subnetId === undefined ? a.main : a.subnetId === subnetId;
    for (const other of this.#routeTables.values()) {
      if (other.vpcId === table.vpcId) {
        other.associations = other.associations.filter((a) => !same(a));
      }
    }
    table.associations.push({
      routeTableAssociationId: this.newId("rtbassoc"),
      main: subnetId === undefined,
      ...(subnetId !== undefined ? { subnetId } : {}),
    });
  }

  #tagged(resourceId: string): { tags: Tags } {
    const tagged = this.#instances.get(resourceId) ?? this.#routeTables.get(resourceId);
    if (!tagged) throw new Error(`No instance or route table "${resourceId}" in the simulator`);
    return tagged;
  }

  #mustGet<T>(map: ReadonlyMap<string, T>, id: string, what: string): T {
    const found = map.get(id);
    if (found === undefined) throw new Error(`No ${what} "${id}" in the simulator`);
    return found;
  }
}
