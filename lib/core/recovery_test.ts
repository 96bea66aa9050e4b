/** @module Tests for recovery planning: who gets rebooted or terminated, and when. */
import assert from "node:assert/strict";
import { instanceHealth } from "../../tests/fixtures.ts";
import type { RecoveryChange } from "../model.ts";
import { planRecovery, type RecoveryInput } from "./recovery.ts";

/** Running instances launched at t = 0. */
const ids = (...instanceIds: string[]) =>
  instanceIds.map((instanceId) => ({ instanceId, launchTime: 0 }));

/** At t = 100 s, with a 60 s wait: i-down has been unhealthy since t = 0. */
const base: RecoveryInput = {
  health: new Map([
    ["i-down", instanceHealth(false, { since: 0, wasHealthy: true })],
    ["i-fresh", instanceHealth(false, { since: 50_000, wasHealthy: true })],
    ["i-up", instanceHealth(true, { since: 0 })],
    ["i-new", instanceHealth(undefined, { since: 0 })],
  ]),
  instances: ids("i-down", "i-fresh", "i-up", "i-new"),
  self: "i-up",
  mode: "reboot",
  afterMs: 60_000,
  now: 100_000,
  lastActions: new Map(),
};

Deno.test("planRecovery()", async (t) => {
  const cases: { name: string; input: Partial<RecoveryInput>; expected: RecoveryChange[] }[] = [
    {
      name: "planRecovery() reboots an instance unhealthy for at least the waiting time",
      input: {},
      expected: [{ action: "reboot", instanceId: "i-down", unhealthyForMs: 100_000 }],
    },
    {
      name: "planRecovery() acts on nothing when recovery is off",
      input: { mode: "off" },
      expected: [],
    },
    {
      name: "planRecovery() terminates in terminate mode",
      input: { mode: "terminate" },
      expected: [{ action: "terminate", instanceId: "i-down", unhealthyForMs: 100_000 }],
    },
    {
      name: "planRecovery() acts exactly when the waiting time is reached",
      input: { now: 110_000, instances: ids("i-fresh", "i-up") },
      expected: [{ action: "reboot", instanceId: "i-fresh", unhealthyForMs: 60_000 }],
    },
    {
      name: "planRecovery() never acts on the instance it runs on",
      input: { self: "i-down" },
      expected: [],
    },
    {
      name: "planRecovery() acts at most once per instance per waiting time",
      input: { lastActions: new Map([["i-down", 50_000]]) },
      expected: [],
    },
    {
      name: "planRecovery() acts at most once per waiting time across instances",
      input: { lastActions: new Map([["i-other", 50_000]]) },
      expected: [],
    },
    {
      name: "planRecovery() never acts on an instance it has not seen healthy",
      input: {
        health: new Map([...base.health, ["i-down", instanceHealth(false, { since: 0 })]]),
      },
      expected: [],
    },
    {
      name: "planRecovery() waits while a cluster instance launched within the waiting time",
      input: { instances: [...ids("i-down", "i-up"), { instanceId: "i-new", launchTime: 50_000 }] },
      expected: [],
    },
    {
      name: "planRecovery() never acts while it does not know which instance it runs on",
      input: { self: undefined },
      expected: [],
    },
    {
      name: "planRecovery() acts again once the waiting time since the last action has passed",
      input: { lastActions: new Map([["i-down", 40_000]]) },
      expected: [{ action: "reboot", instanceId: "i-down", unhealthyForMs: 100_000 }],
    },
    {
      name: "planRecovery() leaves alone an instance that is no longer running",
      input: { instances: ids("i-up", "i-new") },
      expected: [],
    },
    {
      name: "planRecovery() takes one instance at a time, the lowest id first",
      input: {
        now: 200_000,
        instances: ids("i-fresh", "i-new", "i-down"),
      },
      expected: [{ action: "reboot", instanceId: "i-down", unhealthyForMs: 200_000 }],
    },
  ];
  for (const { name, input, expected } of cases) {
    await t.step(name, () => assert.deepEqual(planRecovery({ ...base, ...input }), expected));
  }
});
