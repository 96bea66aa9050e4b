/** @module Tests for the self-check's decisions: findings → verdict, verdicts → standing. */
import assert from "node:assert/strict";
import { natInstance, networkInterface } from "../../tests/fixtures.ts";
import type { NatInstance, NetworkInterface } from "../model.ts";
import {
  INITIAL_SELF_CHECK_STATE,
  judge,
  observeSelfCheck,
  type SelfCheckFindings,
  type SelfCheckReason,
  type SelfCheckState,
  type SelfCheckTransition,
  type SelfCheckVerdict,
  sourceDestCheckOn,
} from "./self_check.ts";

/** This node's instance, `i-0a`: its check on or off, on its interfaces (by default one). */
function instance(
  sourceDestCheck: boolean,
  networkInterfaces?: readonly NetworkInterface[],
): NatInstance {
  return natInstance("i-0a", { sourceDestCheck, ...networkInterfaces && { networkInterfaces } });
}

/** Everything fine: forwarding on, source/dest check off, egress reachable. */
const GOOD: SelfCheckFindings = {
  ipForward: { ok: true, text: "1\n" },
  self: { known: true, instance: instance(false) },
  egress: { target: "example.com:443", reachable: true, error: undefined },
};

Deno.test("judge()", async (t) => {
  const cases: {
    name: string;
    findings: Partial<SelfCheckFindings>;
    reasons: SelfCheckReason[];
    mentions?: string;
  }[] = [
    {
      name: "passes a forwarding NAT with its check off and egress reachable",
      findings: {},
      reasons: [],
    },
    {
      name: "passes without an egress check configured",
      findings: { egress: undefined },
      reasons: [],
    },
    {
      name: "fails when ip_forward is 0",
      findings: { ipForward: { ok: true, text: "0\n" } },
      reasons: ["ip_forward_off"],
      mentions: 'ip_forward is "0", not 1',
    },
    {
      name: "fails when ip_forward holds anything but 1",
      findings: { ipForward: { ok: true, text: "" } },
      reasons: ["ip_forward_off"],
    },
    {
      name: "fails when ip_forward cannot be read",
      findings: { ipForward: { ok: false, error: "no read permission for /proc/x" } },
      reasons: ["ip_forward_unreadable"],
      mentions: "no read permission for /proc/x",
    },
    {
      name: "fails when the single-interface instance has its source/dest check on",
      findings: { self: { known: true, instance: instance(true) } },
      reasons: ["source_dest_check_on"],
      mentions: "i-0a",
    },
    {
      name: "fails when any interface of a multi-interface instance has its check on",
      findings: {
        self: {
          known: true,
          instance: instance(false, [
            networkInterface("eni-0a", 0, false),
            networkInterface("eni-0b", 1, true),
          ]),
        },
      },
      reasons: ["source_dest_check_on"],
      mentions: "eni-0b",
    },
    {
      name: "ignores the instance-level attribute of a multi-interface instance",
      findings: {
        self: {
          known: true,
          instance: instance(true, [
            networkInterface("eni-0a", 0, false),
            networkInterface("eni-0b", 1, false),
          ]),
        },
      },
      reasons: [],
    },
    {
      name: "does not fail while the source/dest check is unknown (EC2 unreachable)",
      findings: { self: { known: false, error: "DescribeInstances failed" } },
      reasons: [],
    },
    {
      name: "fails when the egress target refuses",
      findings: { egress: { target: "127.0.0.1:9", reachable: false, error: "refused" } },
      reasons: ["egress_unreachable"],
      mentions: "egress 127.0.0.1:9 refused",
    },
    {
      name: "says how to grant the permission when the binary may not connect",
      findings: {
        egress: { target: "example.com:443", reachable: false, error: "not_permitted" },
      },
      reasons: ["egress_unreachable"],
      mentions: "build it with --allow-net",
    },
    {
      name: "reports every reason, in a fixed order",
      findings: {
        egress: { target: "127.0.0.1:9", reachable: false, error: "timeout" },
        self: { known: true, instance: instance(true) },
        ipForward: { ok: true, text: "0" },
      },
      reasons: ["ip_forward_off", "source_dest_check_on", "egress_unreachable"],
    },
  ];
  for (const c of cases) {
    await t.step(`judge() ${c.name}`, () => {
      const verdict = judge({ ...GOOD, ...c.findings });
      assert.deepEqual(verdict.reasons, c.reasons);
      assert.equal(verdict.passed, c.reasons.length === 0);
      assert.equal(verdict.details.length, c.reasons.length, "one detail per reason");
      if (c.mentions !== undefined) {
        assert.ok(
          verdict.details.some((d) => d.includes(c.mentions!)),
          `details ${JSON.stringify(verdict.details)} mention ${c.mentions}`,
        );
      }
    });
  }
});

Deno.test("sourceDestCheckOn() names what the leader would turn off", async (t) => {
  await t.step("the instance itself when it has one interface", () => {
    assert.deepEqual(sourceDestCheckOn(instance(true)), ["i-0a"]);
    assert.deepEqual(sourceDestCheckOn(instance(false)), []);
  });
  await t.step("the instance itself when EC2 lists no interface", () => {
    assert.deepEqual(sourceDestCheckOn(instance(true, [])), ["i-0a"]);
  });
  await t.step("each interface with its check on, by device index", () => {
    const on = instance(false, [
      networkInterface("eni-0c", 2, true),
      networkInterface("eni-0a", 0, true),
    ]);
    assert.deepEqual(sourceDestCheckOn(on), ["eni-0a", "eni-0c"]);
  });
});

const PASS: SelfCheckVerdict = { passed: true, reasons: [], details: [] };
const FAIL: SelfCheckVerdict = {
  passed: false,
  reasons: ["egress_unreachable"],
  details: ["egress x:1 refused"],
};

/** Folds a pattern of rounds ("P" passed, "F" failed) and returns standing and transitions. */
function fold(pattern: string, fall: number, rise: number) {
  let state: SelfCheckState = INITIAL_SELF_CHECK_STATE;
  const standing: (boolean | undefined)[] = [];
  const transitions: SelfCheckTransition[] = [];
  for (const round of pattern) {
    const step = observeSelfCheck(state, round === "P" ? PASS : FAIL, { fall, rise });
    state = step.state;
    standing.push(state.passing);
    transitions.push(step.transition);
  }
  return { standing: standing.map((s) => (s ? "P" : "F")).join(""), transitions, state };
}

Deno.test("observeSelfCheck()", async (t) => {
  const cases: { name: string; pattern: string; fall: number; rise: number; standing: string }[] = [
    {
      name: "passes on the very first passed round (the port was closed until then)",
      pattern: "P",
      fall: 3,
      rise: 3,
      standing: "P",
    },
    {
      name: "fails on the very first failed round",
      pattern: "F",
      fall: 3,
      rise: 3,
      standing: "F",
    },
    {
      name: "fails only after `fall` failures in a row",
      pattern: "PFFPFFF",
      fall: 3,
      rise: 2,
      standing: "PPPPPPF",
    },
    {
      name: "passes again only after `rise` passes in a row",
      pattern: "FPFPPP",
      fall: 1,
      rise: 3,
      standing: "FFFFFP",
    },
    {
      name: "follows every round with fall = rise = 1",
      pattern: "PFPF",
      fall: 1,
      rise: 1,
      standing: "PFPF",
    },
  ];
  for (const c of cases) {
    await t.step(`observeSelfCheck() ${c.name}`, () => {
      assert.equal(fold(c.pattern, c.fall, c.rise).standing, c.standing);
    });
  }
  await t.step("observeSelfCheck() reports a transition only when the standing changes", () => {
    const { transitions } = fold("PPFFFPPP", 2, 2);
    assert.deepEqual(transitions, [
      "passed",
      undefined,
      undefined,
      "failed",
      undefined,
      undefined,
      "passed",
      undefined,
    ]);
  });
  await t.step("observeSelfCheck() counts rounds in a row", () => {
    assert.deepEqual(fold("PPF", 2, 2).state, { passing: true, passes: 0, failures: 1 });
    assert.deepEqual(fold("FFPP", 2, 3).state, { passing: false, passes: 2, failures: 0 });
  });
});
