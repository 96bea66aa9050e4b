/**
 * @module Planned departures, acting: the `drain` and `undrain` subcommands, and the daemon's
 * watch over its own departure (spot interruption and Auto Scaling termination notices from
 * the metadata service; clearing its own mark once it is back and healthy after a reboot).
 *
 * `drain` marks the node's own instance (`aws-nat-router/draining` = now), then writes its own
 * route tables away itself, as `decide()` plans for a draining node (the tables go where the
 * normal rules send them, same zone first), and returns once EC2 shows no table on it, or
 * fails after `DRAIN_TIMEOUT_MS`. Every other node reads the mark at its next discovery and
 * decides the same; the leader role passes on because a draining node is no candidate.
 */
import type { Clock } from "../adapters/clock.ts";
import type { ClusterQuery, DrainingMark, Ec2, NatGatewayReader } from "../adapters/ec2.ts";
import { toEc2Error } from "../adapters/ec2.ts";
import type { Logger } from "../adapters/log.ts";
import type { NoticeSource } from "../adapters/metadata.ts";
import type { Probe } from "../adapters/probe.ts";
import {
  clearsOwnMark,
  DRAIN_TIMEOUT_MS,
  drainingTagValue,
  type DrainReason,
  isDraining,
  noticeReason,
  type NoticeState,
  noticesToAsk,
  tablesOn,
  watchPollMs,
} from "../core/drain.ts";
import type { NatInstance } from "../model.ts";
import { Controller, type ControllerSettings } from "./controller.ts";

/** How a subcommand ended: its exit code, and on failure the one line to print. */
export interface CommandOutcome {
  readonly code: 0 | 1 | 2;
  readonly error?: string;
}

export interface DrainDeps {
  readonly ec2: Ec2 & NatGatewayReader & DrainingMark;
  readonly probe: Probe;
  readonly log: Logger;
  readonly clock: Clock;
  /** This instance, from the metadata service. */
  readonly self: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The node's own instance in the cluster, or the one line saying why it is not there. */
async function ownInstance(
  verb: "drain" | "undrain",
  query: ClusterQuery,
  deps: DrainDeps,
): Promise<{ instance: NatInstance } | CommandOutcome> {
  let instances: readonly NatInstance[];
  try {
    instances = (await deps.ec2.describeInstances(query)).items;
  } catch (error) {
    const e = toEc2Error("DescribeInstances", error);
    return {
      code: 1,
      error: `Cannot ${verb} ${deps.self}: EC2 could not be read: ${e.code}: ${e.detail}`,
    };
  }
  const instance = instances.find((i) => i.instanceId === deps.self);
  if (instance) return { instance };
  return {
    code: 2,
    error: `Cannot ${verb} ${deps.self}: it is not a running NAT instance of cluster ` +
      `"${query.clusterId}" in ${query.vpcId}: run ${verb} on a NAT instance of the cluster, ` +
      `with its --vpc-id and --cluster-id`,
  };
}

/**
 * `drain`: marks this instance draining, moves its route tables away, and returns once EC2
 * shows none on it (0), or after `timeoutMs` with the tables still there (1). Bad input
 * (not in the cluster, already draining) changes nothing (2).
 */
export async function drain(
  settings: ControllerSettings,
  deps: DrainDeps,
  options: { readonly timeoutMs?: number; readonly reason?: DrainReason } = {},
): Promise<CommandOutcome> {
  const { ec2, log, clock, self } = deps;
  const query = { vpcId: settings.vpcId, clusterId: settings.clusterId };
  const found = await ownInstance("drain", query, deps);
  if (!("instance" in found)) return found;
  const started = clock.now();
  if (isDraining(found.instance, started)) {
    return {
      code: 2,
      error: `Cannot drain ${self}: it is already draining (since ` +
        `${iso(found.instance.drainingSince!)}): run undrain first to start again`,
    };
  }
  try {
    await ec2.markDraining(self, drainingTagValue(started));
  } catch (error) {
    const e = toEc2Error("CreateTags", error);
    return { code: 1, error: `Cannot drain ${self}: CreateTags failed: ${e.code}: ${e.detail}` };
  }
  log.info("drain.started", { instance_id: self, reason: options.reason ?? "operator" });
  // Decide as a follower of the election would: a draining node writes only its own tables.
  // One check per NAT gives each its verdict (`rise` 1): the view only picks where this
  // node's tables go, a check is already several staggered connects, and a second round would
  // cost a whole probe interval of the hand-off.
  const controller = new Controller({
    ...settings,
    ec2Election: true,
    dryRun: false,
    fall: 1,
    rise: 1,
  }, {
    ...deps,
    self,
  });
  const deadline = started + (options.timeoutMs ?? DRAIN_TIMEOUT_MS);
  let remaining: string[] | undefined;
  while (true) {
    await controller.runOnce();
    try {
      remaining = tablesOn((await ec2.describeRouteTables(query)).items, self);
    } catch (error) {
      const e = toEc2Error("DescribeRouteTables", error);
      log.warn("drain.waiting", { instance_id: self, error: `${e.code}: ${e.detail}` });
    }
    if (remaining?.length === 0) {
      log.info("drain.done", { instance_id: self, duration_ms: clock.now() - started });
      return { code: 0 };
    }
    if (clock.now() >= deadline) break;
    await clock.sleep(Math.min(250, deadline - clock.now()));
  }
  return {
    code: 1,
    error: `Drain of ${self} incomplete after ${(deadline - started) / 1000}s: ` +
      `${
        remaining?.join(", ") || "its route tables"
      } still point at it (is another NAT instance of the cluster ` +
      `healthy?); it stays marked draining: run drain again later, or undrain to cancel`,
  };
}

/** `undrain`: removes this instance's draining mark (0); not draining is bad input (2). */
export async function undrain(
  settings: Pick<ControllerSettings, "vpcId" | "clusterId">,
  deps: DrainDeps,
): Promise<CommandOutcome> {
  const { ec2, log, self } = deps;
  const query = { vpcId: settings.vpcId, clusterId: settings.clusterId };
  const found = await ownInstance("undrain", query, deps);
  if (!("instance" in found)) return found;
  const since = found.instance.drainingSince;
  if (since === undefined) {
    return {
      code: 2,
      error: `Cannot undrain ${self}: it is not draining (no aws-nat-router/draining tag): ` +
        `nothing to do`,
    };
  }
  try {
    await ec2.clearDraining(self);
  } catch (error) {
    const e = toEc2Error("DeleteTags", error);
    return { code: 1, error: `Cannot undrain ${self}: DeleteTags failed: ${e.code}: ${e.detail}` };
  }
  log.info("drain.cleared", {
    instance_id: self,
    reason: "operator",
    draining_since: iso(since),
    expired: !isDraining(found.instance, deps.clock.now()),
  });
  return { code: 0 };
}

export interface DrainWatchDeps {
  readonly notices: NoticeSource;
  readonly ec2: DrainingMark;
  readonly log: Logger;
  readonly clock: Clock;
  readonly self: string;
  /** When this instance last booted (ms since the epoch); 0 when unknown (never clears). */
  readonly bootedAt: number;
  /** This node as the controller sees it now: its mark and its own health verdict. */
  readonly own: () =>
    | { drainingSince: number | undefined; healthy: boolean | undefined }
    | undefined;
  /** Reads EC2 again and reconciles at once. */
  readonly refresh: () => Promise<void>;
}

/**
 * The daemon's watch over its own departure, every `NOTICE_POLL_MS` (every `IDLE_WATCH_MS`
 * where no notice can come: `watchPollMs`) until `signal` aborts:
 * a spot interruption or Auto Scaling termination notice marks this node draining and
 * reconciles at once (the node then writes its own tables away); a mark set before this boot
 * is cleared once the node is healthy again (tables come back by the failback rules).
 */
export async function runDrainWatch(deps: DrainWatchDeps, signal: AbortSignal): Promise<void> {
  const { ec2, log, clock, self } = deps;
  let noticed: DrainReason | undefined;
  let noticeError: string | undefined;
  let known: NoticeState = { lifeCycle: undefined, outsideGroupAt: undefined };
  let lifeCycleRead = false;
  while (!signal.aborted) {
    const own = deps.own();
    const now = clock.now();
    if (
      noticed === undefined && own !== undefined &&
      clearsOwnMark({
        drainingSince: own.drainingSince,
        bootedAt: deps.bootedAt,
        healthy: own.healthy === true,
        now,
      })
    ) {
      try {
        await ec2.clearDraining(self);
        log.info("drain.cleared", {
          instance_id: self,
          reason: "healthy_after_boot",
          draining_since: iso(own.drainingSince!),
        });
        await deps.refresh();
      } catch (error) {
        const e = toEc2Error("DeleteTags", error);
        log.warn("drain.clear_failed", { instance_id: self, error: `${e.code}: ${e.detail}` });
      }
    }
    if (noticed === undefined) {
      try {
        if (!lifeCycleRead) {
          known = { ...known, lifeCycle: await deps.notices.lifeCycle() };
          lifeCycleRead = true;
        }
        const ask = noticesToAsk(known, now);
        const notices = await deps.notices.notices(ask);
        if (ask.autoScaling) {
          known = {
            ...known,
            outsideGroupAt: notices.lifecycleState === undefined ? now : undefined,
          };
        }
        noticeError = undefined;
        const reason = noticeReason(notices.spotInstanceAction, notices.lifecycleState);
        if (reason !== undefined) {
          if (own === undefined || !isDraining(own, clock.now())) {
            await ec2.markDraining(self, drainingTagValue(clock.now()));
          }
          noticed = reason;
          log.warn("drain.started", { instance_id: self, reason });
          await refreshUntilMarked(deps, signal);
        }
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        if (text !== noticeError) log.warn("drain.notice_failed", { error: text });
        noticeError = text;
      }
    }
    await clock.sleep(watchPollMs(known), signal);
  }
}

/** Reconciles until the view shows this node's mark (EC2 tags are eventually consistent). */
async function refreshUntilMarked(deps: DrainWatchDeps, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; attempt < 20 && !signal.aborted; attempt++) {
    await deps.refresh();
    const own = deps.own();
    if (own !== undefined && isDraining(own, deps.clock.now())) return;
    await deps.clock.sleep(250, signal);
  }
}
