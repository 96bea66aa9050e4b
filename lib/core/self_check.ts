/**
 * @module The self-check's decisions (`--self-check`): is this NAT instance doing its job?
 * Three findings — the kernel's IP forwarding switch, this instance's source/destination
 * check as EC2 last described it, and (with `--egress-check`) a TCP connect to a target
 * outside the VPC — become a verdict with stable reasons (`judge`), and a stream of verdicts
 * becomes a passing/failing state with `fall`/`rise` thresholds (`observeSelfCheck`). Pure:
 * what was read, described and connected is passed in.
 */
import type { NatInstance } from "../model.ts";
import { planSourceDestChecks } from "./plan.ts";

/**
 * Why a self-check failed. Stable log values (`self_check.failed reason=...`): renaming one
 * is a breaking change.
 */
export type SelfCheckReason =
  | "ip_forward_off" // the kernel does not forward IPv4 (ip_forward is not 1)
  | "ip_forward_unreadable" // ip_forward could not be read (permission, not Linux, ...)
  | "source_dest_check_on" // EC2 drops forwarded packets: source/dest check is on
  | "egress_unreachable"; // the --egress-check target did not accept a TCP connect in time

/** The order reasons are reported in (a fixed order, so log lines compare). */
export const SELF_CHECK_REASONS: readonly SelfCheckReason[] = [
  "ip_forward_off",
  "ip_forward_unreadable",
  "source_dest_check_on",
  "egress_unreachable",
];

/** The contents of a file, or why it could not be read. */
export type ReadOutcome =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly error: string };

/** This instance as EC2 described it, or why that is not known. */
export type SelfDescription =
  | { readonly known: true; readonly instance: NatInstance }
  | { readonly known: false; readonly error: string };

/** The outcome of the TCP connect to the `--egress-check` target. */
export interface EgressOutcome {
  /** `host:port`, for the log. */
  readonly target: string;
  readonly reachable: boolean;
  /** Short cause when unreachable: `refused`, `timeout`, ... */
  readonly error: string | undefined;
}

/** What one round of the self-check found, before judging. */
export interface SelfCheckFindings {
  /** `/proc/sys/net/ipv4/ip_forward`. */
  readonly ipForward: ReadOutcome;
  /**
   * Unknown (EC2 unreachable, instance not found) is not a failure: an EC2 outage would
   * otherwise close every NAT's health port at once, and peers could not move routes anyway.
   */
  readonly self: SelfDescription;
  /** `undefined` without `--egress-check`. */
  readonly egress: EgressOutcome | undefined;
}

/** The verdict of one round. */
export interface SelfCheckVerdict {
  readonly passed: boolean;
  /** In `SELF_CHECK_REASONS` order; empty when passed. */
  readonly reasons: readonly SelfCheckReason[];
  /** One clause per reason, for the log: what was seen. Empty when passed. */
  readonly details: readonly string[];
}

/**
 * The interfaces (or the instance, when it has one interface) whose source/destination
 * check is on: exactly what the leader would turn off (`planSourceDestChecks`). Instance
 * level for single-interface instances, every interface's own attribute otherwise.
 */
export function sourceDestCheckOn(instance: NatInstance): string[] {
  return planSourceDestChecks([instance]).map((change) =>
    change.networkInterfaceId ?? change.instanceId
  );
}

/** Judges one round's findings. */
export function judge(findings: SelfCheckFindings): SelfCheckVerdict {
  const found = new Map<SelfCheckReason, string>();
  const { ipForward, self, egress } = findings;
  if (!ipForward.ok) {
    found.set("ip_forward_unreadable", `cannot read ip_forward: ${ipForward.error}`);
  } else if (ipForward.text.trim() !== "1") {
    found.set("ip_forward_off", `ip_forward is ${JSON.stringify(ipForward.text.trim())}, not 1`);
  }
  if (self.known) {
    const on = sourceDestCheckOn(self.instance);
    if (on.length > 0) found.set("source_dest_check_on", `source/dest check on ${on.join(",")}`);
  }
  if (egress !== undefined && !egress.reachable) {
    const hint = egress.error === "not_permitted"
      ? " (the binary has no net permission for it: build it with --allow-net for the target)"
      : "";
    found.set(
      "egress_unreachable",
      `egress ${egress.target} ${egress.error ?? "unreachable"}${hint}`,
    );
  }
  const reasons = SELF_CHECK_REASONS.filter((reason) => found.has(reason));
  return {
    passed: reasons.length === 0,
    reasons,
    details: reasons.map((reason) => found.get(reason) ?? reason),
  };
}

/** Thresholds: `fall` failed rounds in a row fail the node, `rise` passed rounds pass it. */
export interface SelfCheckThresholds {
  readonly fall: number;
  readonly rise: number;
}

/** The node's standing, folded from its verdicts. */
export interface SelfCheckState {
  /** `undefined` before the first round. */
  readonly passing: boolean | undefined;
  /** Passed rounds in a row (0 after a failure). */
  readonly passes: number;
  /** Failed rounds in a row (0 after a pass). */
  readonly failures: number;
}

export const INITIAL_SELF_CHECK_STATE: SelfCheckState = {
  passing: undefined,
  passes: 0,
  failures: 0,
};

/** A changed standing, to log and to act on (open or close the health port). */
export type SelfCheckTransition = "passed" | "failed" | undefined;

/**
 * Folds one verdict into the state. The first round decides at once: the health port is
 * closed until then (and was closed while the router restarted), so waiting for `rise`
 * rounds would only keep a healthy NAT dark longer. After that, `fall` failures or `rise`
 * passes in a row flip the standing; anything shorter is ignored (no flapping).
 */
export function observeSelfCheck(
  state: SelfCheckState,
  verdict: SelfCheckVerdict,
  thresholds: SelfCheckThresholds,
): { readonly state: SelfCheckState; readonly transition: SelfCheckTransition } {
  const passes = verdict.passed ? state.passes + 1 : 0;
  const failures = verdict.passed ? 0 : state.failures + 1;
  const passing = state.passing === undefined
    ? verdict.passed
    : passes >= thresholds.rise
    ? true
    : failures >= thresholds.fall
    ? false
    : state.passing;
  const transition = passing === state.passing ? undefined : passing ? "passed" : "failed";
  return { state: { passing, passes, failures }, transition };
}
