/**
 * @module Shared by the fault, odd-data and secrets end-to-end tests: the invariant every
 * scenario ends with (each tagged route table of the VPC on a healthy cluster NAT, same zone
 * first, and nothing the router does not own changed), a check that a router is still
 * running, and `Ec2Proxy`, an HTTP hop in front of the simulated EC2 endpoint that can hold a
 * call back (to let "another writer" act between the router's Describe and its write) and
 * page Describe answers (the simulator, like EC2, answers a Describe without `MaxResults`
 * in one page).
 */
import assert from "node:assert/strict";
import { TAG_CLUSTER_ID, TAG_ZONE } from "../lib/model.ts";
import { allocatedTo, assertOnlyOwnRoutesChanged, waitUntil } from "./e2e.ts";
import type { RouterProcess } from "./router_process.ts";
import type { Ec2Instance, Ec2RouteTable, Ec2Snapshot } from "./sim/ec2_sim.ts";
import { DROP, type HttpAnswer, type HttpRequest, HttpServer } from "./sim/http_server.ts";
import type { SimVpc, StandardVpc } from "./sim/vpc.ts";

/** The zone pattern the router accepts in a zone tag (after trimming). */
const ZONE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** A NAT's zone as the router sees it: a valid zone tag, else its placement. */
export function natZone(instance: Ec2Instance): string {
  const tag = instance.tags[TAG_ZONE]?.trim();
  return tag !== undefined && ZONE.test(tag) ? tag : instance.zone;
}

/** A route table's zone as the router sees it: a valid zone tag, else none. */
export function tableZone(table: Ec2RouteTable): string | undefined {
  const tag = table.tags[TAG_ZONE]?.trim();
  return tag !== undefined && ZONE.test(tag) ? tag : undefined;
}

/** The route tables of the cluster in the VPC, as the simulator has them now. */
export function ownedTables(vpc: SimVpc, clusterId = "squid"): Ec2RouteTable[] {
  return vpc.ec2.routeTables().filter((t) =>
    t.vpcId === vpc.vpcId && t.tags[TAG_CLUSTER_ID] === clusterId
  );
}

/**
 * Why the allocation is not (yet) right, or `undefined` when every tagged route table's
 * default route points, active, at one of `healthy`, in the table's zone when that zone has
 * a healthy NAT. With no healthy NAT there is nothing to check.
 */
export function misallocation(
  vpc: SimVpc,
  healthy: readonly string[],
  clusterId = "squid",
): string | undefined {
  if (healthy.length === 0) return undefined;
  const zones = new Map(healthy.map((id) => {
    const instance = vpc.ec2.instance(id);
    assert.ok(instance, `no instance ${id} in the simulator`);
    return [id, natZone(instance)] as const;
  }));
  for (const table of ownedTables(vpc, clusterId)) {
    const route = table.routes.find((r) => r.destinationCidrBlock === "0.0.0.0/0");
    const target = vpc.ec2.defaultRouteTarget(table.routeTableId);
    if (!route || target === undefined) return `${table.routeTableId} has no default route`;
    if (!zones.has(target)) return `${table.routeTableId} points at ${target}, not a healthy NAT`;
    if (vpc.ec2.routeState(route) !== "active") return `${table.routeTableId} is a blackhole`;
    const zone = tableZone(table);
    const served = zone !== undefined && [...zones.values()].includes(zone);
    if (served && zones.get(target) !== zone) {
      return `${table.routeTableId} (zone ${zone}) is on ${target} in ${zones.get(target)}`;
    }
  }
  return undefined;
}

/**
 * The shared end-of-scenario invariant: waits until every tagged route table is on a healthy
 * cluster NAT (`allocatedTo` for the standard fleet's tables, `misallocation` for every
 * tagged table), then asserts nothing outside the router's remit changed since `before`.
 */
export async function assertConverged(
  vpc: SimVpc | StandardVpc,
  before: Ec2Snapshot,
  healthy: readonly string[],
  options: { readonly clusterId?: string; readonly timeoutMs?: number } = {},
): Promise<void> {
  const clusterId = options.clusterId ?? "squid";
  // allocatedTo checks the standard fleet's tables: only while each is still in the cluster.
  const standard = "fleet" in vpc &&
      (vpc as StandardVpc).fleet.routeTableIds.every((id) =>
        vpc.ec2.routeTable(id)?.tags[TAG_CLUSTER_ID] === clusterId
      )
    ? vpc as StandardVpc
    : undefined;
  try {
    await waitUntil(
      `every tagged route table is on one of ${healthy.join(", ")}`,
      () =>
        (standard === undefined || allocatedTo(standard, healthy)) &&
        misallocation(vpc, healthy, clusterId) === undefined,
      options.timeoutMs ?? 15_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${misallocation(vpc, healthy, clusterId)}`);
  }
  assertOnlyOwnRoutesChanged(before, vpc.ec2.snapshot(), vpc.vpcId, clusterId);
}

/** Watches a router process so a test can assert it never exited on its own. */
export function watch(router: RouterProcess): { assertRunning(): void } {
  let code: number | undefined;
  void router.exited.then((c) => code = c);
  return {
    assertRunning() {
      assert.equal(
        code,
        undefined,
        `${router.name} exited ${code}; last lines:\n${router.lines.slice(-15).join("\n")}`,
      );
    },
  };
}

/**
 * The router's log from now on: `waitFor` matches only lines logged after this call, so a
 * step does not pass on a line an earlier step caused.
 */
export function logFrom(router: RouterProcess): {
  waitFor(match: RegExp, timeoutMs?: number): Promise<string>;
  grep(match: RegExp): string[];
} {
  const start = router.lines.length;
  const grep = (match: RegExp) => router.lines.slice(start).filter((line) => match.test(line));
  return {
    grep,
    async waitFor(match, timeoutMs = 15_000) {
      try {
        await waitUntil(`${router.name} logs ${match}`, () => grep(match).length > 0, timeoutMs);
      } catch (error) {
        throw new Error(
          `${(error as Error).message}; last lines:\n${router.lines.slice(-15).join("\n")}`,
        );
      }
      return grep(match)[0]!;
    },
  };
}

/** Route writes (CreateRoute/ReplaceRoute that reached the simulator) to `table` since `since`. */
export function writesTo(vpc: SimVpc, table: string, since = 0): number {
  return vpc.ec2.routeWrites.filter((w) => w.routeTableId === table && w.time >= since).length;
}

export interface ProxiedCall {
  readonly action: string;
  readonly params: URLSearchParams;
}

export interface Ec2ProxyOptions {
  /** `MaxResults` added to DescribeRouteTables calls that have none (5 to 100). */
  readonly routeTablePageSize?: number;
  /** `MaxResults` added to DescribeInstances calls that have none (5 to 1000). */
  readonly instancePageSize?: number;
}

/**
 * An HTTP hop between the router and the simulated EC2 endpoint. Forwards each call as is
 * (the simulator does not check signatures, so adding `MaxResults` is safe), after awaiting
 * `onCall` when set: a test can change the simulated VPC there, between the router's read
 * and its write, as another writer would. Faults, latency and the call log stay the
 * simulator's own.
 */
export class Ec2Proxy {
  /** Awaited before each call is forwarded. */
  onCall: ((call: ProxiedCall) => void | Promise<void>) | undefined;
  readonly #target: string;
  readonly #options: Ec2ProxyOptions;
  readonly #http: HttpServer;

  constructor(target: string, options: Ec2ProxyOptions = {}) {
    this.#target = target;
    this.#options = options;
    this.#http = new HttpServer((request) => this.#forward(request));
  }

  get endpoint(): string {
    return this.#http.url;
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  async #forward(request: HttpRequest): Promise<HttpAnswer> {
    const params = new URLSearchParams(request.body);
    const action = params.get("Action") ?? "";
    const pageSize = action === "DescribeRouteTables"
      ? this.#options.routeTablePageSize
      : action === "DescribeInstances"
      ? this.#options.instancePageSize
      : undefined;
    if (pageSize !== undefined && !params.has("MaxResults")) {
      params.set("MaxResults", String(pageSize));
    }
    await this.onCall?.({ action, params });
    const headers = new Headers(request.headers);
    for (const name of ["host", "content-length", "connection"]) headers.delete(name);
    try {
      const response = await fetch(`${this.#target}${request.target}`, {
        method: request.method,
        headers,
        body: request.method === "GET" ? null : params.toString(),
      });
      const body = await response.text();
      return {
        status: response.status,
        headers: { "content-type": response.headers.get("content-type") ?? "text/xml" },
        body,
      };
    } catch {
      return DROP; // the simulator dropped the connection: so does the proxy
    }
  }
}
