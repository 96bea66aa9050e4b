/**
 * @module The world the demo's scenario plays in, as a narrow port: a fleet of NAT instances
 * and tagged route tables behind an EC2-compatible endpoint, NATs that can be made silent
 * and brought back, and a way to start the real router on one NAT. `loopbackWorld` is the
 * simulated VPC on 127.0.0.0/8; another world (network namespaces) plugs in by implementing
 * `DemoWorld`. Neither the scenario nor the screen knows which world they run in.
 */
import { assertOnlyOwnRoutesChanged, misrouting, routerArgs, startFleet } from "../../tests/e2e.ts";
import { type RouterProcess, runArgs, simEnv, startRouter } from "../../tests/router_process.ts";
import type { Ec2Snapshot } from "../../tests/sim/ec2_sim.ts";
import { SimVpc, type StandardVpc } from "../../tests/sim/vpc.ts";
import { TAG_ZONE } from "../../lib/model.ts";

/** The resources the scenario is about (ids as EC2 names them). */
export interface DemoFleet {
  readonly vpcId: string;
  readonly clusterId: string;
  readonly zones: readonly string[];
  /** Oldest first (launch order): the oldest healthy one leads. */
  readonly natIds: readonly string[];
  readonly natsByZone: Readonly<Record<string, readonly string[]>>;
  /** Tagged route tables, the router's to manage. */
  readonly routeTableIds: readonly string[];
  readonly tablesByZone: Readonly<Record<string, readonly string[]>>;
  /** Tables the router must never touch, with why they are not its own. */
  readonly otherTables: readonly { readonly id: string; readonly label: string }[];
}

/** One route write as EC2 recorded it. */
export interface DemoRouteWrite {
  /** Wall clock, milliseconds since the epoch. */
  readonly time: number;
  readonly routeTableId: string;
  /** The instance (or interface) the default route points at after the write. */
  readonly to: string | undefined;
}

/** How the NAT is made to fail, and how it comes back. */
export type NatFault = "silent" | "up";

export interface DemoWorld {
  /** One line naming the world, for the screen ("simulated VPC vpc-… on loopback …"). */
  readonly description: string;
  readonly fleet: DemoFleet;
  zoneOf(instanceId: string): string | undefined;
  /** The zone a route table is tagged with. */
  tableZone(routeTableId: string): string | undefined;
  /** The instance or gateway the table's default route points at now. */
  defaultRouteTarget(routeTableId: string): string | undefined;
  /** The route writes so far, in order, from the `first`-th on (0: all of them). */
  routeWrites(first?: number): DemoRouteWrite[];
  /** What the NAT really does now, in the world's own word ("up", "silent"). */
  natState(instanceId: string): string;
  /** Whether it really forwards now. */
  natForwards(instanceId: string): boolean;
  /** Makes the NAT stop answering (`silent`) or answer again (`up`). */
  setNat(instanceId: string, fault: NatFault): Promise<void>;
  /** Every tagged table on one of `healthy`, same zone first, through an active route. */
  allocatedTo(healthy: readonly string[]): boolean;
  /** The shell command that runs the router on the NAT with `flags` (printed for the reader). */
  routerCommand(instanceId: string, flags: readonly string[]): string;
  /** Starts the real router on each NAT, named router-1, router-2, ... in `natIds` order. */
  startRouters(flags: readonly string[]): RouterProcess[];
  /** Starts the router on one NAT again (its earlier process is gone). */
  startRouter(name: string, instanceId: string, flags: readonly string[]): RouterProcess;
  /** What the router may not have changed since the world started. */
  remit(): {
    readonly tables: readonly {
      readonly label: string;
      readonly id: string;
      readonly untouched: boolean;
      readonly target: string | undefined;
      readonly calls: number;
    }[];
    /** `undefined` when nothing but tagged tables' default routes changed. */
    readonly outside: string | undefined;
  };
  close(): Promise<void>;
}

/** What `startFleet` puts in front of the timing flags. */
const FLEET_FLAGS = ["--ec2-election", "--log-level", "info"] as const;
const LOOPBACK = "127.0.0.0/8";

/** The simulated VPC on loopback: 3 zones with 2, 1 and 0 NATs, 2 tagged tables each. */
export async function loopbackWorld(): Promise<DemoWorld> {
  const vpc = await SimVpc.standard();
  return new LoopbackWorld(vpc, vpc.ec2.snapshot());
}

class LoopbackWorld implements DemoWorld {
  readonly #vpc: StandardVpc;
  readonly #initial: Ec2Snapshot;
  readonly fleet: DemoFleet;

  constructor(vpc: StandardVpc, initial: Ec2Snapshot) {
    this.#vpc = vpc;
    this.#initial = initial;
    const f = vpc.fleet;
    this.fleet = {
      vpcId: f.vpcId,
      clusterId: f.clusterId,
      zones: f.zones,
      natIds: f.natIds,
      natsByZone: f.natsByZone,
      routeTableIds: f.routeTableIds,
      tablesByZone: f.tablesByZone,
      otherTables: [
        { id: f.untaggedRouteTableId, label: "untagged" },
        { id: f.foreignRouteTableId, label: "other VPC" },
      ],
    };
  }

  get description(): string {
    return `simulated VPC ${this.fleet.vpcId} on loopback ${LOOPBACK}, EC2 endpoint ${this.#vpc.ec2Endpoint}`;
  }

  zoneOf(instanceId: string): string | undefined {
    return this.#vpc.ec2.instance(instanceId)?.zone;
  }

  tableZone(routeTableId: string): string | undefined {
    return this.#vpc.ec2.routeTable(routeTableId)?.tags[TAG_ZONE];
  }

  defaultRouteTarget(routeTableId: string): string | undefined {
    return this.#vpc.ec2.defaultRouteTarget(routeTableId);
  }

  routeWrites(first = 0): DemoRouteWrite[] {
    return this.#vpc.ec2.routeWrites.slice(first).map((write) => ({
      time: write.time,
      routeTableId: write.routeTableId,
      to: write.instanceId ?? write.networkInterfaceId,
    }));
  }

  natState(instanceId: string): string {
    return this.#vpc.nat(instanceId).mode;
  }

  natForwards(instanceId: string): boolean {
    return this.#vpc.nat(instanceId).mode === "up";
  }

  async setNat(instanceId: string, fault: NatFault): Promise<void> {
    await this.#vpc.nat(instanceId).setMode(fault);
  }

  allocatedTo(healthy: readonly string[]): boolean {
    return misrouting(this.#vpc, healthy) === undefined;
  }

  #command(instanceId: string, flags: readonly string[]) {
    return {
      args: routerArgs(this.#vpc, [...FLEET_FLAGS, ...flags]),
      env: simEnv(
        { ec2: this.#vpc.ec2Endpoint, imds: this.#vpc.imdsEndpoint(instanceId) },
        { AWS_REGION: this.#vpc.region },
      ),
    };
  }

  routerCommand(instanceId: string, flags: readonly string[]): string {
    const { args, env } = this.#command(instanceId, flags);
    const quote = (s: string) => /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
    const envPart = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
    return `env -i ${envPart.join(" ")} ${quote(Deno.execPath())} ${
      runArgs(LOOPBACK, args).map(quote).join(" ")
    }`;
  }

  startRouters(flags: readonly string[]): RouterProcess[] {
    return startFleet(this.#vpc, flags);
  }

  startRouter(name: string, instanceId: string, flags: readonly string[]): RouterProcess {
    return startRouter({ name, ...this.#command(instanceId, flags) });
  }

  remit(): ReturnType<DemoWorld["remit"]> {
    const { ec2, ec2Server } = this.#vpc;
    const now = ec2.snapshot();
    const tables = this.fleet.otherTables.map(({ id, label }) => {
      const was = this.#initial.routeTables.find((t) => t.routeTableId === id);
      const is = now.routeTables.find((t) => t.routeTableId === id);
      const calls = ec2Server.calls.filter((c) => c.params.RouteTableId === id).length;
      const untouched = JSON.stringify(was) === JSON.stringify(is) && calls === 0;
      return { label, id, untouched, target: ec2.defaultRouteTarget(id), calls };
    });
    let outside: string | undefined;
    try {
      assertOnlyOwnRoutesChanged(this.#initial, now, this.fleet.vpcId, this.fleet.clusterId);
    } catch (error) {
      outside = error instanceof Error ? error.message : String(error);
    }
    return { tables, outside };
  }

  close(): Promise<void> {
    return this.#vpc.close();
  }
}
