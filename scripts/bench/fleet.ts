/**
 * @module The benchmark's fleet: a standard simulated VPC (3 zones, 2+1+0 NATs, 6 route
 * tables) with one real router process per NAT, all with `--ec2-election`. Knows how to
 * restart one router as the same instance, wait for the allocation to settle, tell which
 * routers have re-read the route tables since a moment, and shut everything down (every
 * fleet ever started is tracked, so a signal handler can close them all).
 */
import { DEFAULT_TIMING, routerArgs, targets, waitUntil } from "../../tests/e2e.ts";
import { type RouterProcess, simEnv, startRouter } from "../../tests/router_process.ts";
import { SimVpc, type StandardVpc } from "../../tests/sim/vpc.ts";
import { within } from "./stats.ts";

/** The two router configurations the benchmark compares. */
export interface RouterConfig {
  readonly name: "new" | "baseline";
  readonly label: string;
  /** Flags every router of this configuration gets (besides VPC, port, election, log level). */
  readonly flags: readonly string[];
  readonly probeIntervalMs: number;
  readonly intervalMs: number;
}

export const NEW_DEFAULTS: RouterConfig = {
  name: "new",
  label: "new defaults",
  flags: [...DEFAULT_TIMING],
  probeIntervalMs: 600,
  intervalMs: 5000,
};

export const BASELINE: RouterConfig = {
  name: "baseline",
  label: "baseline (original-style)",
  flags: [
    "--fall",
    "1",
    "--rise",
    "1",
    "--probe-interval",
    "5s",
    "--interval",
    "5s",
    "--timeout",
    "500ms",
    "--failback-delay",
    "0",
  ],
  probeIntervalMs: 5000,
  intervalMs: 5000,
};

export const CONFIGS: readonly RouterConfig[] = [NEW_DEFAULTS, BASELINE];

/**
 * Extra flags in the failover scenarios: the new defaults' 30 s failback hold-down would make
 * each trial wait 30 s for the failed NAT to take its tables back; 1 s does not change how
 * fast tables move away from a failed NAT (those moves are never held).
 */
export function failoverFlags(config: RouterConfig): readonly string[] {
  return config.name === "new" ? [...config.flags, "--failback-delay", "1s"] : config.flags;
}

const live = new Set<BenchFleet>();
const cleanups = new Set<() => Promise<unknown>>();

/** Registers something to stop if the benchmark is interrupted; call the result when done. */
export function onInterrupt(cleanup: () => Promise<unknown>): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Closes every fleet and registered process still running (for signal handlers). */
export async function closeAllFleets(): Promise<void> {
  await Promise.allSettled([
    ...[...live].map((fleet) => fleet.close()),
    ...[...cleanups].map((cleanup) => cleanup()),
  ]);
}

/** Route tables per instance id. */
export type Loads = ReadonlyMap<string, number>;

export class BenchFleet {
  readonly vpc: StandardVpc;
  readonly flags: readonly string[];
  readonly logLevel: string;
  /** The current router of each NAT, by the NAT's index in `fleet.natIds`. */
  readonly routers: RouterProcess[];
  /** Every router process started, restarted ones included, with the NAT index it ran as. */
  readonly history: { readonly index: number; readonly router: RouterProcess }[] = [];
  /** The load per NAT once the first allocation settled. */
  initialLoads: Loads = new Map();
  #closed = false;

  private constructor(vpc: StandardVpc, flags: readonly string[], logLevel: string) {
    this.vpc = vpc;
    this.flags = flags;
    this.logLevel = logLevel;
    this.routers = [];
    live.add(this);
  }

  /** Starts the VPC and one router per NAT; waits until the first allocation settled. */
  static async start(flags: readonly string[], logLevel = "info"): Promise<BenchFleet> {
    const vpc = await SimVpc.standard();
    const fleet = new BenchFleet(vpc, flags, logLevel);
    try {
      vpc.fleet.natIds.forEach((_, index) => fleet.routers.push(fleet.#spawn(index)));
      await fleet.routers[0]!.waitFor(/router\.ready/, 30_000);
      await waitUntil("the first allocation", () => fleet.allocated(), 30_000);
      fleet.initialLoads = fleet.loads();
      await fleet.waitSynced(fleet.lastWriteTime(), 30_000);
      return fleet;
    } catch (error) {
      await fleet.close();
      throw error;
    }
  }

  get natIds(): readonly string[] {
    return this.vpc.fleet.natIds;
  }

  #spawn(index: number): RouterProcess {
    const id = this.natIds[index]!;
    const router = startRouter({
      name: `router-${index + 1}`,
      args: routerArgs(this.vpc, ["--ec2-election", "--log-level", this.logLevel, ...this.flags]),
      env: simEnv({ ec2: this.vpc.ec2Endpoint, imds: this.vpc.imdsEndpoint(id) }, {
        AWS_REGION: this.vpc.region,
      }),
    });
    this.history.push({ index, router });
    return router;
  }

  /** Starts the router of NAT `index` again (same instance, same metadata service). */
  restart(index: number): RouterProcess {
    const router = this.#spawn(index);
    this.routers[index] = router;
    return router;
  }

  /** The access key the router of NAT `index` signs with (its role's credentials). */
  keyOf(index: number): string {
    return this.vpc.imds(this.natIds[index]!).credentials.accessKeyId;
  }

  /** Route tables per NAT now (NATs without tables included with 0). */
  loads(): Loads {
    const loads = new Map(this.natIds.map((id) => [id, 0]));
    for (const target of Object.values(targets(this.vpc))) {
      if (target !== undefined) loads.set(target, (loads.get(target) ?? 0) + 1);
    }
    return loads;
  }

  /**
   * Every table on a NAT of the fleet, each NAT with its fair share (tables / NATs, within
   * one), and each zone's tables on its own NATs when it has any: the settled allocation.
   */
  allocated(): boolean {
    const { tablesByZone, natsByZone, routeTableIds } = this.vpc.fleet;
    const share = routeTableIds.length / this.natIds.length;
    const loads = this.loads();
    const balanced = [...loads.values()].every((n) => Math.abs(n - share) < 1);
    const zonesOk = Object.entries(tablesByZone).every(([zone, tables]) =>
      tables.every((table) => {
        const target = this.vpc.ec2.defaultRouteTarget(table);
        if (target === undefined || !this.natIds.includes(target)) return false;
        const own = natsByZone[zone] ?? [];
        return own.length === 0 || own.includes(target);
      })
    );
    return balanced && zonesOk;
  }

  /** The wall-clock time of the latest route write (0 when none). */
  lastWriteTime(): number {
    return this.vpc.ec2.routeWrites.at(-1)?.time ?? 0;
  }

  /** Whether the router of NAT `index` read the route tables after `since` (wall clock). */
  readSince(index: number, since: number): boolean {
    const key = this.keyOf(index);
    return this.vpc.ec2Server.calls.some((call) =>
      call.action === "DescribeRouteTables" && call.status === 200 && call.time > since &&
      call.accessKeyId === key
    );
  }

  /** Waits until every running router read the route tables after `since`. */
  async waitSynced(since: number, timeoutMs: number, indexes?: readonly number[]): Promise<void> {
    const which = indexes ?? this.natIds.map((_, i) => i);
    await waitUntil(
      `every router re-read the route tables after ${new Date(since).toISOString()}`,
      () => which.every((i) => this.readSince(i, since)),
      timeoutMs,
    );
  }

  /** The leader named by the latest `leader.changed` line of the router of NAT `index`. */
  leaderSeenBy(index: number): string | undefined {
    const line = this.routers[index]?.grep(/leader\.changed /).at(-1);
    return line === undefined ? undefined : /leader=(\S+)/.exec(line)?.[1];
  }

  /** Writes every router's log lines to `dir/<tag>-router-<n>[-<restart>].log`. */
  async dumpLogs(dir: string, tag: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const seen = new Map<number, number>();
    for (const { index, router } of this.history) {
      const nth = seen.get(index) ?? 0;
      seen.set(index, nth + 1);
      const name = `${tag}-router-${index + 1}${nth === 0 ? "" : `-${nth}`}.log`;
      await Deno.writeTextFile(`${dir}/${name}`, router.lines.join("\n") + "\n");
    }
  }

  /** Stops every router (SIGTERM, SIGKILL after 5 s) and the simulated VPC. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    live.delete(this);
    await Promise.allSettled(this.history.map(async ({ router }) => {
      if (await within(router.stop(), 5000) === undefined) await router.kill();
    }));
    await this.vpc.close();
  }
}
