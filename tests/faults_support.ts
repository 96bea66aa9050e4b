/**
 * @module Shared by the fault, odd-data and secrets end-to-end tests: `assertConverged()`,
 * the end of every scenario (`misrouting()` of `e2e.ts` finds nothing wrong, and nothing the
 * router does not own changed), a check that a router is still running, and `Ec2Proxy`, an
 * HTTP hop in front of the simulated EC2 endpoint that can hold a call back (to let "another
 * writer" act between the router's Describe and its write) and page Describe answers (the
 * simulator, like EC2, answers a Describe without `MaxResults` in one page).
 */
import assert from "node:assert/strict";
import { assertOnlyOwnRoutesChanged, waitUntil, waitUntilRouted } from "./e2e.ts";
import type { RouterProcess } from "./router_process.ts";
import type { Ec2Snapshot } from "./sim/ec2_sim.ts";
import { DROP, type HttpAnswer, type HttpRequest, HttpServer } from "./sim/http_server.ts";
import type { SimVpc } from "./sim/vpc.ts";

/**
 * The shared end of a scenario: waits until `misrouting()` finds every tagged route table on
 * one of `healthy` (same zone first), then asserts nothing outside the router's remit
 * changed since `before`.
 */
export async function assertConverged(
  vpc: SimVpc,
  before: Ec2Snapshot,
  healthy: readonly string[],
  options: { readonly clusterId?: string; readonly timeoutMs?: number } = {},
): Promise<void> {
  await waitUntilRouted(
    `every tagged route table is on one of ${healthy.join(", ")}`,
    vpc,
    healthy,
    options,
  );
  assertOnlyOwnRoutesChanged(before, vpc.ec2.snapshot(), vpc.vpcId, options.clusterId);
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
