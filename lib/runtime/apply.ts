/**
 * @module Applies a plan through the EC2 port: the single dry-run seam. Route changes run
 * concurrently (a few at a time, so a throttled write retried by the SDK does not hold up
 * the others); the CreateRoute/ReplaceRoute race with another writer is settled by the
 * other call; one failed change never stops the rest. One log line per change.
 */
import {
  type Ec2,
  Ec2Error,
  isMissingRouteError,
  ROUTE_ALREADY_EXISTS,
  toEc2Error,
} from "../adapters/ec2.ts";
import type { Logger } from "../adapters/log.ts";
import type { RecoveryChange, RouteChange, SourceDestCheckChange } from "../model.ts";
import type { Plan } from "../core/plan.ts";

export interface Failure<T> {
  readonly change: T;
  readonly error: Ec2Error;
}

export interface ApplyResult {
  readonly routes: readonly RouteChange[];
  readonly sourceDestChecks: readonly SourceDestCheckChange[];
  readonly recoveries: readonly RecoveryChange[];
  readonly failures: readonly Failure<RouteChange | SourceDestCheckChange | RecoveryChange>[];
}

export interface ApplyOptions {
  readonly ec2: Ec2;
  readonly log: Logger;
  readonly dryRun: boolean;
  /** Once aborted, no further write starts; writes in flight finish. */
  readonly stop?: AbortSignal;
  /** Writes in flight at once. */
  readonly concurrency?: number;
  /** Called after each route write that reached EC2 (for metrics). */
  readonly onRouteChanged?: (change: RouteChange) => void;
}

/** Runs `task` over `items` with at most `limit` in flight, skipping what is left once stopped. */
async function each<T>(
  items: readonly T[],
  limit: number,
  stop: AbortSignal | undefined,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop?.aborted) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const RETRIES = 2;
const RETRY_DELAY_MS = 250;

/**
 * Whether to retry here: only errors with no answer at all (a reset or dropped connection),
 * which the SDK does not retry under Deno. Throttling, 5xx and timeouts the SDK has already
 * retried (3 attempts); retrying them again multiplies the attempts (9 per write, each up to
 * the request timeout) while EC2 throttles or hangs, and holds up the reconcile meanwhile.
 */
function retryHere(e: Ec2Error): boolean {
  const serverError = e.httpStatus !== undefined && e.httpStatus >= 500;
  return e.transient && !e.throttled && !serverError && e.code !== "TimeoutError";
}

/** Runs `call`, retrying connection failures with backoff unless `stop` has aborted. */
async function withRetries<T>(
  action: string,
  stop: AbortSignal | undefined,
  call: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await call();
    } catch (error) {
      const e = toEc2Error(action, error);
      if (!retryHere(e) || attempt >= RETRIES || stop?.aborted) throw e;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * 2 ** attempt));
    }
  }
}

/** What a route write did: the call that succeeded, and the error code of a lost race. */
interface Written {
  readonly action: "create" | "replace";
  /** Set when the planned call failed because another writer changed the route first. */
  readonly raced?: string;
}

/** Writes one route, settling the race with another writer by the other call. */
async function writeRoute(ec2: Ec2, change: RouteChange): Promise<Written> {
  const write = {
    routeTableId: change.routeTableId,
    destinationCidrBlock: change.destinationCidrBlock,
    networkInterfaceId: change.networkInterfaceId,
    ...(change.natGatewayId !== undefined ? { natGatewayId: change.natGatewayId } : {}),
  };
  if (change.action === "replace") {
    try {
      await ec2.replaceRoute(write);
      return { action: "replace" };
    } catch (error) {
      if (!isMissingRouteError(error)) throw error;
      await ec2.createRoute(write); // deleted since we looked
      return { action: "create", raced: (error as Ec2Error).code };
    }
  }
  try {
    await ec2.createRoute(write);
    return { action: "create" };
  } catch (error) {
    if (!(error instanceof Ec2Error && error.code === ROUTE_ALREADY_EXISTS)) throw error;
    await ec2.replaceRoute(write); // created by someone else since we looked
    return { action: "replace", raced: error.code };
  }
}

function routeFields(change: RouteChange) {
  return {
    route_table_id: change.routeTableId,
    from: change.from,
    to: change.to,
    network_interface_id: change.networkInterfaceId,
    reason: change.reason,
  };
}

export async function applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
  const { ec2, log, dryRun, stop } = options;
  const limit = options.concurrency ?? 8;
  const done: ApplyResult = { routes: [], sourceDestChecks: [], recoveries: [], failures: [] };
  const routes = done.routes as RouteChange[];
  const checks = done.sourceDestChecks as SourceDestCheckChange[];
  const recoveries = done.recoveries as RecoveryChange[];
  const failures = done.failures as Failure<RouteChange | SourceDestCheckChange | RecoveryChange>[];

  if (dryRun) {
    for (const change of plan.routes) {
      log.info("route.planned", { dry_run: true, action: change.action, ...routeFields(change) });
    }
    for (const change of plan.sourceDestChecks) {
      log.info("source_dest_check.planned", {
        dry_run: true,
        instance_id: change.instanceId,
        network_interface_id: change.networkInterfaceId,
      });
    }
    for (const change of plan.recoveries) {
      log.info("recovery.planned", {
        dry_run: true,
        action: change.action,
        instance_id: change.instanceId,
      });
    }
    return done;
  }

  await each(plan.sourceDestChecks, limit, stop, async (change) => {
    const fields = {
      instance_id: change.instanceId,
      network_interface_id: change.networkInterfaceId,
    };
    try {
      await ec2.disableSourceDestCheck(change);
      checks.push(change);
      log.info("source_dest_check.disabled", fields);
    } catch (error) {
      const e = toEc2Error("ModifyInstanceAttribute", error);
      failures.push({ change, error: e });
      log.error("source_dest_check.failed", { ...fields, code: e.code, error: e.detail });
    }
  });

  await each(plan.routes, limit, stop, async (change) => {
    try {
      const { action, raced } = await withRetries(
        "WriteRoute",
        stop,
        () => writeRoute(ec2, change),
      );
      routes.push(change);
      options.onRouteChanged?.(change);
      log.info(action === "create" ? "route.created" : "route.replaced", {
        ...routeFields(change),
        ...(raced === undefined ? {} : { raced }),
      });
    } catch (error) {
      const e = toEc2Error(change.action === "create" ? "CreateRoute" : "ReplaceRoute", error);
      failures.push({ change, error: e });
      log.error("route.failed", { ...routeFields(change), code: e.code, error: e.detail });
    }
  });

  await each(plan.recoveries, limit, stop, async (change) => {
    const fields = {
      instance_id: change.instanceId,
      unhealthy_for_s: Math.round(change.unhealthyForMs / 1000),
    };
    try {
      if (change.action === "reboot") await ec2.rebootInstance(change.instanceId);
      else await ec2.terminateInstance(change.instanceId);
      recoveries.push(change);
      log.warn(change.action === "reboot" ? "recovery.rebooted" : "recovery.terminated", fields);
    } catch (error) {
      const e = toEc2Error(
        change.action === "reboot" ? "RebootInstances" : "TerminateInstances",
        error,
      );
      failures.push({ change, error: e });
      log.error("recovery.failed", {
        ...fields,
        action: change.action,
        code: e.code,
        error: e.detail,
      });
    }
  });
  return done;
}
