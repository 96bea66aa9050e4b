/**
 * @module Acceptance tests of the simulated NAT health listeners: each mode looks to a TCP
 * prober as it should (connected, refused at once, timed out), modes switch back and forth,
 * instance state drives them, and the flaky model never fails a 1 s prober twice in a row.
 */

import assert from "node:assert/strict";
import { flakyBlips, type FlakyOptions, type NatMode, probeTcp } from "./sim/nat.ts";
import { SimVpc } from "./sim/vpc.ts";
import { sleep } from "./sim/http_server.ts";

Deno.test("health listeners answer a TCP prober according to their mode", async (t) => {
  await using vpc = await SimVpc.start();
  const natId = vpc.addInstance({ publicIp: true });
  const { privateIp, publicIp } = vpc.ec2.instance(natId)!;
  const probe = (address = privateIp!) => probeTcp(address, vpc.healthPort, 300);

  const cases: readonly [NatMode, string, (ms: number) => boolean][] = [
    ["up", "connected", () => true],
    ["refusing", "refused", (ms) => ms < 100],
    ["silent", "timeout", (ms) => ms >= 250],
    ["up", "connected", () => true],
    ["silent", "timeout", () => true],
    ["refusing", "refused", (ms) => ms < 100],
    ["up", "connected", () => true],
  ];
  for (const [mode, expected, timely] of cases) {
    await t.step(`${mode}: a connect is ${expected}, on private and public address`, async () => {
      await vpc.nat(natId).setMode(mode);
      assert.equal(vpc.nat(natId).mode, mode);
      for (const address of [privateIp!, publicIp!]) {
        const { outcome, ms } = await probe(address);
        assert.equal(outcome, expected, `${address}:${vpc.healthPort} in mode ${mode}`);
        assert.ok(timely(ms), `${outcome} after ${ms.toFixed(0)} ms`);
      }
    });
  }

  await t.step("probes answered are counted, not the backlog filling", async () => {
    const before = vpc.nat(natId).accepted;
    await probe();
    await probe();
    await sleep(50);
    assert.equal(vpc.nat(natId).accepted, before + 2);
  });

  await t.step("every NAT shares the health port on its own address", () => {
    const otherId = vpc.addInstance();
    assert.equal(vpc.nat(otherId).port, vpc.healthPort);
    assert.notEqual(vpc.ec2.instance(otherId)!.privateIp, privateIp);
  });
});

Deno.test("instance state drives the health listener", async (t) => {
  await using vpc = await SimVpc.start({ rebootMs: 300 });
  const natId = vpc.addInstance();
  const probe = async () =>
    (await probeTcp(vpc.ec2.instance(natId)!.privateIp!, vpc.healthPort, 300)).outcome;

  const cases: readonly [string, () => void, string][] = [
    ["a stopped instance refuses", () => vpc.ec2.stopInstance(natId), "refused"],
    ["a started instance answers", () => vpc.ec2.startInstance(natId), "connected"],
    ["a rebooting instance refuses", () => vpc.ec2.rebootInstance(natId), "refused"],
  ];
  for (const [name, change, expected] of cases) {
    await t.step(name, async () => {
      change();
      await vpc.settled();
      assert.equal(await probe(), expected);
    });
  }

  await t.step("a rebooted instance answers again after rebootMs", async () => {
    await sleep(600);
    await vpc.settled();
    assert.equal(await probe(), "connected");
  });

  await t.step("a terminated instance refuses", async () => {
    vpc.ec2.terminateInstance(natId);
    await vpc.settled();
    assert.equal(await probe(), "refused");
  });

  await t.step("an instance created stopped starts refusing", async () => {
    const stoppedId = vpc.addInstance({ state: "stopped" });
    await vpc.settled();
    const { outcome } = await probeTcp(
      vpc.ec2.instance(stoppedId)!.privateIp!,
      vpc.healthPort,
      300,
    );
    assert.equal(outcome, "refused");
  });
});

Deno.test("the flaky schedule misses about 1 probe in 5, never 2 in a row for a 1 s prober", async (t) => {
  const missesOf = (options: FlakyOptions, phase: number, probes: number) => {
    const blips = flakyBlips(options);
    const misses: boolean[] = [];
    let blip = blips.next().value;
    for (let i = 0; i < probes; i++) {
      const at = phase + i * 1000;
      while (blip.end <= at) blip = blips.next().value;
      misses.push(blip.start <= at);
    }
    return misses;
  };

  for (const seed of [1, 2, 3, 42, 1234]) {
    await t.step(`seed ${seed}: 1000 probes at 10 phases`, () => {
      for (let phase = 0; phase < 1000; phase += 100) {
        const misses = missesOf({ seed }, phase, 1000);
        const rate = misses.filter(Boolean).length / misses.length;
        assert.ok(rate > 0.14 && rate < 0.26, `miss rate ${rate}`);
        assert.ok(!misses.some((miss, i) => miss && misses[i + 1]), "two misses in a row");
      }
    });
  }

  await t.step("the same seed gives the same schedule", () => {
    const take = (seed: number) => {
      const blips = flakyBlips({ seed });
      return Array.from({ length: 5 }, () => blips.next().value);
    };
    assert.deepEqual(take(7), take(7));
    assert.notDeepEqual(take(7), take(8));
  });
});

Deno.test("a flaky listener blips on real sockets, never twice in a row for a spaced prober", async () => {
  await using vpc = await SimVpc.start();
  const natId = vpc.addInstance();
  const address = vpc.ec2.instance(natId)!.privateIp!;
  // Accelerated: blips of 100 ms every 300–400 ms; probes spaced 100–300 ms never miss twice.
  const options = { seed: 5, blipMs: 100, minGapMs: 300, maxGapMs: 400 };
  await vpc.nat(natId).setMode("flaky", options);
  const probes: { at: number; miss: boolean }[] = [];
  const end = performance.now() + 4000;
  while (performance.now() < end) {
    const at = performance.now();
    const { outcome } = await probeTcp(address, vpc.healthPort, 100);
    probes.push({ at, miss: outcome !== "connected" });
    await sleep(150);
  }
  await vpc.nat(natId).setMode("up");
  const misses = probes.filter((p) => p.miss).length;
  assert.ok(misses >= 1, `no probe missed out of ${probes.length}`);
  assert.ok(misses < probes.length / 2, `${misses} of ${probes.length} probes missed`);
  const doubleMisses = probes.filter((p, i) => {
    const next = probes[i + 1];
    const spacing = next ? next.at - p.at : 0;
    return p.miss && next?.miss && spacing >= options.blipMs && spacing <= options.minGapMs;
  });
  assert.deepEqual(doubleMisses, [], "two misses in a row for probes spaced as promised");
});
