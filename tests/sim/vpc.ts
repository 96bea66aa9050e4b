/**
 * @module The simulated VPC as one object, for end-to-end tests, the demo and the benchmarks:
 * the EC2 endpoint, and per instance a NAT health listener (on its own 127.x addresses, all at
 * one health port) and a metadata service. Instance state drives the NAT: stopped or
 * terminated → `refusing`; running again → `up`; rebooted → `refusing` for `rebootMs`, then
 * `up`. Everything listens on 127.0.0.0/8 only. `SimVpc.standard()` builds the canonical
 * fleet.
 */

import { TAG_CLUSTER_ID, TAG_ZONE } from "../../lib/model.ts";
import {
  Ec2Sim,
  type InstanceEvent,
  type InstanceStateName,
  type RouteSpec,
  type Tags,
} from "./ec2_sim.ts";
import { Ec2Server } from "./ec2_server.ts";
import { ImdsServer } from "./imds.ts";
import { NatListener, type NatMode } from "./nat.ts";

export interface SimVpcOptions {
  /** Default `us-east-1`. */
  readonly region?: string;
  /** Zones `<region>a`, `<region>b`, … (default 3). */
  readonly zoneCount?: number;
  /** Seed of the EC2 id generator (default 1). */
  readonly seed?: number;
  /** Clock for launch times (default `Date.now`); later `vpc.ec2.now`. */
  readonly now?: () => number;
  /** The default VPC's CIDR block (default `10.0.0.0/16`; data only, nothing connects there). */
  readonly vpcCidr?: string;
  /** How long a rebooted instance refuses health checks (default 1000 ms). */
  readonly rebootMs?: number;
}

export interface SimInstanceOptions {
  /** Default: the first zone. */
  readonly zone?: string;
  /** Default: the default VPC. */
  readonly vpcId?: string;
  readonly tags?: Tags;
  /** Adds the tag `aws-nat-router/id` with this value. */
  readonly clusterId?: string;
  /** Default: now, whole seconds. */
  readonly launchTime?: number | Date;
  /** Number of network interfaces (default 1). */
  readonly interfaces?: number;
  /** Default: a free 127.0.x.y address; `null`: none (and no health listener there). */
  readonly privateIp?: string | null;
  /** An address, or `true` for a free 127.100.x.y address (default: none). */
  readonly publicIp?: string | true;
  /** On every interface (default true, as EC2 launches instances). */
  readonly sourceDestCheck?: boolean;
  /** Default `running`. */
  readonly state?: InstanceStateName;
  /** Initial health-listener mode (default `up`, or `refusing` when not running). */
  readonly natMode?: NatMode;
  /** Instance role served by the metadata service (default `aws-nat-router`; `null`: none). */
  readonly role?: string | null;
}

export interface SimRouteTableOptions {
  /** Default: the default VPC. */
  readonly vpcId?: string;
  readonly tags?: Tags;
  readonly routes?: readonly RouteSpec[];
  readonly subnetIds?: readonly string[];
  readonly main?: boolean;
}

export interface StandardOptions extends SimVpcOptions {
  /** NAT instances per zone, one entry per zone (default `[2, 1, 0]`). */
  readonly zones?: readonly number[];
  readonly tablesPerZone?: number;
  readonly clusterId?: string;
}

/** What `SimVpc.standard()` built. */
export interface StandardFleet {
  readonly clusterId: string;
  readonly vpcId: string;
  readonly zones: readonly string[];
  /** Oldest first. */
  readonly natIds: readonly string[];
  readonly natsByZone: Readonly<Record<string, readonly string[]>>;
  /** Tagged with the cluster id and their zone, each associated with its own subnet. */
  readonly routeTableIds: readonly string[];
  readonly tablesByZone: Readonly<Record<string, readonly string[]>>;
  readonly internetGatewayId: string;
  /** The VPC's main route table: untagged, default route to the internet gateway. */
  readonly untaggedRouteTableId: string;
  readonly foreignVpcId: string;
  /** Tagged with the cluster id but in another VPC; default route to its internet gateway. */
  readonly foreignRouteTableId: string;
}

export type StandardVpc = SimVpc & { readonly fleet: StandardFleet };

/** Static credentials the simulator accepts (it does not check signatures). */
export const TEST_CREDENTIALS = {
  accessKeyId: "AKIASIMULATEDTESTKEY",
  secretAccessKey: "simulated/secret/access/key/0000000000",
} as const;

const ADDRESS_RANGES = { private: 0, public: 100 } as const;

export class SimVpc {
  readonly ec2: Ec2Sim;
  readonly ec2Server: Ec2Server;
  readonly region: string;
  readonly zones: readonly string[];
  /** The default VPC. */
  readonly vpcId: string;
  /** The TCP port every NAT's health listener uses, each on its own address. */
  readonly healthPort: number;
  readonly #rebootMs: number;
  readonly #nats = new Map<string, NatListener>();
  readonly #publicSubnets = new Map<string, string>();
  readonly #imds = new Map<string, ImdsServer>();
  readonly #reboots = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #pending = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;
  readonly #nextAddress = { private: 254, public: 0 };

  private constructor(options: SimVpcOptions, healthPort: number) {
    this.region = options.region ?? "us-east-1";
    this.zones = Array.from(
      { length: options.zoneCount ?? 3 },
      (_, i) => `${this.region}${String.fromCharCode(97 + i)}`,
    );
    this.healthPort = healthPort;
    this.#rebootMs = options.rebootMs ?? 1000;
    this.ec2 = new Ec2Sim({
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    this.vpcId = this.ec2.addVpc(options.vpcCidr ? { cidrBlock: options.vpcCidr } : {});
    this.ec2Server = new Ec2Server(this.ec2);
    this.#unsubscribe = this.ec2.onInstanceEvent((event) => this.#follow(event));
  }

  static start(options: SimVpcOptions = {}): Promise<SimVpc> {
    // Any free port on the first NAT address; NATs on other addresses are likely free there too.
    const probe = Deno.listen({ hostname: "127.0.1.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    return Promise.resolve(new SimVpc(options, port));
  }

  /**
   * One VPC; zones with `zones[i]` NAT instances each, tagged with the cluster id and their
   * zone, launched a minute apart (the first is the oldest); `tablesPerZone` route tables per
   * zone tagged likewise, without a default route; the VPC's main route table, untagged, and
   * a tagged route table in another VPC, both with a default route to an internet gateway.
   */
  static async standard(options: StandardOptions = {}): Promise<StandardVpc> {
    const perZone = options.zones ?? [2, 1, 0];
    const clusterId = options.clusterId ?? "squid";
    const vpc = await SimVpc.start({ ...options, zoneCount: Math.max(perZone.length, 3) });
    const zones = vpc.zones.slice(0, perZone.length);
    const natCount = perZone.reduce((a, b) => a + b, 0);
    const firstLaunch = Math.floor(vpc.ec2.now() / 1000) * 1000 - natCount * 60_000;
    const natsByZone: Record<string, string[]> = {};
    const tablesByZone: Record<string, string[]> = {};
    const natIds: string[] = [];
    zones.forEach((zone, z) => {
      const tags = { [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zone };
      natsByZone[zone] = Array.from({ length: perZone[z] ?? 0 }, () => {
        const launchTime = firstLaunch + natIds.length * 60_000;
        const instanceId = vpc.addInstance({ zone, tags, launchTime, publicIp: true });
        natIds.push(instanceId);
        return instanceId;
      });
      tablesByZone[zone] = Array.from(
        { length: options.tablesPerZone ?? 2 },
        () => vpc.addRouteTable({ tags, subnetIds: [vpc.ec2.addSubnet(vpc.vpcId, zone)] }),
      );
    });
    const internetGatewayId = vpc.ec2.newId("igw");
    const untaggedRouteTableId = vpc.addRouteTable({
      main: true,
      routes: [{ destinationCidrBlock: "0.0.0.0/0", gatewayId: internetGatewayId }],
    });
    const foreignVpcId = vpc.ec2.addVpc({ cidrBlock: "10.1.0.0/16" });
    const foreignRouteTableId = vpc.addRouteTable({
      vpcId: foreignVpcId,
      main: true,
      tags: { [TAG_CLUSTER_ID]: clusterId, [TAG_ZONE]: zones[0] ?? vpc.zones[0]! },
      routes: [{ destinationCidrBlock: "0.0.0.0/0", gatewayId: vpc.ec2.newId("igw") }],
    });
    const fleet: StandardFleet = {
      clusterId,
      vpcId: vpc.vpcId,
      zones,
      natIds,
      natsByZone,
      routeTableIds: Object.values(tablesByZone).flat(),
      tablesByZone,
      internetGatewayId,
      untaggedRouteTableId,
      foreignVpcId,
      foreignRouteTableId,
    };
    return Object.assign(vpc, { fleet });
  }

  /** `http://127.0.0.1:PORT`: the EC2 endpoint. */
  get ec2Endpoint(): string {
    return this.ec2Server.endpoint;
  }

  /** The instance's metadata service, `http://127.0.0.1:PORT`. */
  imdsEndpoint(instanceId: string): string {
    return this.imds(instanceId).endpoint;
  }

  imds(instanceId: string): ImdsServer {
    const imds = this.#imds.get(instanceId);
    if (!imds) throw new Error(`No metadata service for "${instanceId}" in the simulated VPC`);
    return imds;
  }

  /** The instance's health listener: `await vpc.nat(id).setMode("silent")`. */
  nat(instanceId: string): NatListener {
    const nat = this.#nats.get(instanceId);
    if (!nat) throw new Error(`No health listener for "${instanceId}": it has no address`);
    return nat;
  }

  /** Environment for running the router against this VPC, as the given instance if any. */
  routerEnv(instanceId?: string): Record<string, string> {
    return {
      AWS_REGION: this.region,
      AWS_ENDPOINT_URL_EC2: this.ec2Endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      ...(instanceId ? { AWS_EC2_METADATA_SERVICE_ENDPOINT: this.imdsEndpoint(instanceId) } : {}),
    };
  }

  /**
   * The zone's public subnet, where NAT instances run (as on AWS), made on first use: never
   * one of the private subnets the route tables serve.
   */
  #publicSubnet(vpcId: string, zone: string): string {
    const key = `${vpcId}/${zone}`;
    let subnetId = this.#publicSubnets.get(key);
    if (subnetId === undefined) {
      subnetId = this.ec2.addSubnet(vpcId, zone);
      this.#publicSubnets.set(key, subnetId);
    }
    return subnetId;
  }

  /** A running (by default) instance with its health listener and metadata service. */
  addInstance(options: SimInstanceOptions = {}): string {
    const zone = options.zone ?? this.zones[0]!;
    const state = options.state ?? "running";
    const privateIp = options.privateIp === null
      ? undefined
      : options.privateIp ?? this.#freeAddress("private");
    const publicIp = options.publicIp === true ? this.#freeAddress("public") : options.publicIp;
    const tags = {
      ...(options.clusterId !== undefined ? { [TAG_CLUSTER_ID]: options.clusterId } : {}),
      ...options.tags,
    };
    const vpcId = options.vpcId ?? this.vpcId;
    const instanceId = this.ec2.addInstance({
      vpcId,
      zone,
      subnetId: this.#publicSubnet(vpcId, zone),
      tags,
      state,
      ...(options.launchTime !== undefined ? { launchTime: options.launchTime } : {}),
      ...(options.interfaces !== undefined ? { interfaces: options.interfaces } : {}),
      ...(privateIp !== undefined ? { privateIp } : {}),
      ...(publicIp !== undefined ? { publicIp } : {}),
      ...(options.sourceDestCheck !== undefined
        ? { sourceDestCheck: options.sourceDestCheck }
        : {}),
    });
    const addresses = [privateIp, publicIp].filter((a) => a !== undefined);
    if (addresses.length > 0) {
      const nat = new NatListener(addresses, this.healthPort);
      this.#nats.set(instanceId, nat);
      const mode = options.natMode ?? (state === "running" ? "up" : "refusing");
      if (mode !== "up") this.#track(nat.setMode(mode));
    }
    this.#imds.set(
      instanceId,
      new ImdsServer({
        instanceId,
        zone,
        region: this.region,
        ...(privateIp !== undefined ? { privateIp } : {}),
        ...(options.role !== undefined ? { role: options.role } : {}),
      }),
    );
    return instanceId;
  }

  addRouteTable(options: SimRouteTableOptions = {}): string {
    return this.ec2.addRouteTable({ ...options, vpcId: options.vpcId ?? this.vpcId });
  }

  /** Wait for the health-listener changes that instance events started. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stop every server and listener; leaves no resource behind. */
  async close(): Promise<void> {
    this.#unsubscribe();
    for (const timer of this.#reboots.values()) clearTimeout(timer);
    this.#reboots.clear();
    await this.settled();
    await Promise.all([
      this.ec2Server.close(),
      ...[...this.#nats.values()].map((nat) => nat.close()),
      ...[...this.#imds.values()].map((imds) => imds.close()),
    ]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #follow(event: InstanceEvent): void {
    const nat = this.#nats.get(event.instanceId);
    if (!nat) return;
    clearTimeout(this.#reboots.get(event.instanceId));
    this.#reboots.delete(event.instanceId);
    if (event.type === "rebooted") {
      this.#track(nat.setMode("refusing"));
      this.#reboots.set(
        event.instanceId,
        setTimeout(() => {
          this.#reboots.delete(event.instanceId);
          this.#track(nat.setMode("up"));
        }, this.#rebootMs),
      );
    } else if (event.state === "stopped" || event.state === "terminated") {
      this.#track(nat.setMode("refusing"));
    } else if (event.state === "running" && event.previousState !== "running") {
      this.#track(nat.setMode("up"));
    }
  }

  #track(change: Promise<void>): void {
    const settled = change.catch(() => {});
    this.#pending.add(settled);
    settled.finally(() => this.#pending.delete(settled));
  }

  /** The next address of the range free at the health port (another process may hold one). */
  #freeAddress(range: keyof typeof ADDRESS_RANGES): string {
    for (;;) {
      const n = this.#nextAddress[range]++;
      const address = `127.${ADDRESS_RANGES[range]}.${Math.floor(n / 254)}.${(n % 254) + 1}`;
      try {
        Deno.listen({ hostname: address, port: this.healthPort }).close();
        return address;
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      }
    }
  }
}
