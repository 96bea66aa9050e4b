/**
 * @module Tests for the self-check at run time: what one round reads (an injected or temp
 * ip_forward file, an injected EC2 port and connect), how often EC2 is asked, and how the
 * loop opens and closes the health port and logs transitions only.
 */
import assert from "node:assert/strict";
import { type Clock, realClock } from "../adapters/clock.ts";
import type { HealthServer, ServeOutcome } from "../adapters/health_server.ts";
import { memoryLogger } from "../adapters/log.ts";
import { fakeEc2, natInstance } from "../../tests/fixtures.ts";
import { judge } from "../core/self_check.ts";
import {
  type Connect,
  runNodeHealth,
  SelfCheck,
  type SelfCheckSettings,
  startNodeHealth,
} from "./self_check_runner.ts";
import { createTcpProbe } from "../adapters/probe.ts";

const SELF = "i-0000000000000000a";

/** This node's instance, its source/destination check on or off. */
const thisNode = (sourceDestCheck = false) => natInstance(SELF, { sourceDestCheck });
const OTHER = natInstance("i-0000000000000000b");

/** An EC2 whose DescribeInstances always fails with `error`. */
const failingEc2 = (error: Error) => fakeEc2().failNext("DescribeInstances", error, Infinity);

/** Time that moves only when the code under test sleeps. */
function steppedClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    advance: (ms) => now += ms,
    sleep: async (ms) => {
      now += Math.max(0, ms);
      await Promise.resolve();
    },
  };
}

const SETTINGS: SelfCheckSettings = {
  instanceId: SELF,
  vpcId: "vpc-0123abcd",
  clusterId: "squid",
  ipForwardPath: "/proc/sys/net/ipv4/ip_forward",
  egress: undefined,
  timeoutMs: 100,
  describeIntervalMs: 5_000,
  dryRun: false,
};

const reads = (...values: string[]) => {
  let n = 0;
  return (path: string) => {
    assert.equal(path, SETTINGS.ipForwardPath, "reads the configured path");
    return Promise.resolve(values[Math.min(n++, values.length - 1)] ?? "");
  };
};

Deno.test("SelfCheck.check()", async (t) => {
  await t.step("reads ip_forward through the injected reader", async () => {
    const check = new SelfCheck(SETTINGS, {
      ec2: fakeEc2({ instances: [thisNode()] }),
      readTextFile: reads("0\n"),
      clock: steppedClock(),
      log: memoryLogger(),
    });
    const findings = await check.check();
    assert.deepEqual(findings.ipForward, { ok: true, text: "0\n" });
    assert.equal(findings.egress, undefined, "no egress check without --egress-check");
  });

  await t.step("reads ip_forward from a real file at an injected path", async () => {
    const path = await Deno.makeTempFile({ prefix: "ip_forward" });
    try {
      await Deno.writeTextFile(path, "1\n");
      const check = new SelfCheck({ ...SETTINGS, ipForwardPath: path }, {
        ec2: fakeEc2({ instances: [thisNode()] }),
        readTextFile: (p) => Deno.readTextFile(p),
        clock: steppedClock(),
        log: memoryLogger(),
      });
      assert.deepEqual((await check.check()).ipForward, { ok: true, text: "1\n" });
      await Deno.remove(path);
      const missing = await check.check();
      assert.equal(missing.ipForward.ok, false, "a missing file is a finding, not a throw");
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  });

  await t.step("finds this instance in the described cluster", async () => {
    const check = new SelfCheck(SETTINGS, {
      ec2: fakeEc2({ instances: [OTHER, thisNode(true)] }),
      readTextFile: reads("1"),
      clock: steppedClock(),
      log: memoryLogger(),
    });
    const { self } = await check.check();
    assert.ok(self.known, "the first round waits for EC2");
    assert.equal(self.known && self.instance.instanceId, SELF);
  });

  await t.step("turns its own source/dest check off and judges what is left", async () => {
    const ec2 = fakeEc2({ instances: [OTHER, thisNode(true)] });
    const log = memoryLogger();
    const check = new SelfCheck(SETTINGS, {
      ec2,
      readTextFile: reads("1"),
      clock: steppedClock(),
      log,
    });
    const findings = await check.check();
    assert.ok(findings.self.known && !findings.self.instance.sourceDestCheck, "fixed");
    assert.equal(judge(findings).passed, true, "a fixed check does not fail the node");
    assert.deepEqual(ec2.writes, [`DisableSourceDestCheck ${SELF}`], "only its own instance");
    assert.match(
      log.lines.join("\n"),
      /source_dest_check\.disabled instance_id=\S+ .*by=self_check/,
    );
  });

  await t.step("with --dry-run reports the check on and changes nothing", async () => {
    const ec2 = fakeEc2({ instances: [thisNode(true)] });
    const check = new SelfCheck({ ...SETTINGS, dryRun: true }, {
      ec2,
      readTextFile: reads("1"),
      clock: steppedClock(),
      log: memoryLogger(),
    });
    const findings = await check.check();
    assert.deepEqual(judge(findings).reasons, ["source_dest_check_on"]);
    assert.deepEqual(ec2.writes, []);
  });

  await t.step("fails on a check it could not turn off, and says how to fix it", async () => {
    const ec2 = fakeEc2({ instances: [thisNode(true)] });
    ec2.failNext("DisableSourceDestCheck", new Error("UnauthorizedOperation"));
    const log = memoryLogger();
    const check = new SelfCheck(SETTINGS, {
      ec2,
      readTextFile: reads("1"),
      clock: steppedClock(),
      log,
    });
    assert.deepEqual(judge(await check.check()).reasons, ["source_dest_check_on"]);
    assert.match(log.lines.join("\n"), /ERROR source_dest_check\.failed .*fix=/);
  });

  await t.step("reports itself unknown when not in the cluster or EC2 fails", async () => {
    const absent = new SelfCheck(SETTINGS, {
      ec2: fakeEc2({ instances: [OTHER] }),
      readTextFile: reads("1"),
      clock: steppedClock(),
      log: memoryLogger(),
    });
    const notFound = (await absent.check()).self;
    assert.ok(!notFound.known && notFound.error.includes("not a running NAT instance"));
    const failing = new SelfCheck(SETTINGS, {
      ec2: failingEc2(new Error("DescribeInstances failed: RequestLimitExceeded")),
      readTextFile: reads("1"),
      clock: steppedClock(),
      log: memoryLogger(),
    });
    const unreachable = (await failing.check()).self;
    assert.ok(!unreachable.known && unreachable.error.includes("RequestLimitExceeded"));
  });

  await t.step("asks EC2 once per describe interval and keeps the last answer", async () => {
    const clock = steppedClock();
    const ec2 = fakeEc2({ instances: [thisNode(false)] });
    const check = new SelfCheck(SETTINGS, {
      ec2,
      readTextFile: reads("1"),
      clock,
      log: memoryLogger(),
    });
    await check.check();
    // The second DescribeInstances fails; from the third on, EC2 shows the check on.
    ec2.failNext("DescribeInstances", new Error("timeout"));
    ec2.instances = [thisNode(true)];
    for (let n = 0; n < 4; n++) {
      clock.advance(1_000);
      await check.check();
    }
    assert.equal(
      ec2.count("DescribeInstances"),
      1,
      "five rounds within 5 s: one DescribeInstances",
    );
    clock.advance(1_000);
    const afterError = await check.check(); // starts the second describe (it fails)
    await check.settle();
    assert.ok(afterError.self.known, "the last answer stands while EC2 fails");
    assert.equal(ec2.count("DescribeInstances"), 2);
    clock.advance(5_000);
    await check.check(); // third describe, in the background
    await check.settle();
    const latest = (await check.check()).self;
    assert.equal(ec2.count("DescribeInstances"), 3);
    assert.ok(latest.known, "refreshed");
    assert.deepEqual(
      ec2.writes,
      [`DisableSourceDestCheck ${SELF}`],
      "refreshed: the check EC2 now shows on was turned off",
    );
  });

  await t.step("connects to the egress target within the timeout", async () => {
    const seen: [string, number, number][] = [];
    const connect: Connect = (target, timeoutMs) => {
      seen.push([target.hostname, target.port, timeoutMs]);
      return Promise.resolve({ healthy: false, error: "refused" });
    };
    const check = new SelfCheck({ ...SETTINGS, egress: { hostname: "::1", port: 443 } }, {
      ec2: fakeEc2({ instances: [thisNode()] }),
      readTextFile: reads("1"),
      clock: steppedClock(),
      log: memoryLogger(),
      connect,
    });
    const { egress } = await check.check();
    assert.deepEqual(seen, [["::1", 443, 100]]);
    assert.deepEqual(egress, { target: "[::1]:443", reachable: false, error: "refused" });
  });
});

/** A health server that records what it was told. */
function fakeServer(onSet: (on: boolean) => void = () => {}) {
  let serving = false;
  const calls: boolean[] = [];
  const server: HealthServer & { readonly calls: boolean[]; closed: boolean } = {
    hostname: "127.0.0.1",
    port: 3128,
    calls,
    closed: false,
    get serving() {
      return serving;
    },
    accepted: 0,
    setServing(on: boolean): Promise<ServeOutcome> {
      calls.push(on);
      serving = on;
      onSet(on);
      return Promise.resolve({ ok: true });
    },
    close() {
      server.closed = true;
      serving = false;
      return Promise.resolve();
    },
  };
  return server;
}

Deno.test("runNodeHealth()", async (t) => {
  await t.step(
    "runNodeHealth() closes the port after `fall` failures and reopens after `rise` passes",
    async () => {
      //               1    1    0    0    0    1    1    0    1
      const values = ["1", "1", "0", "0", "0", "1", "1", "0", "1"];
      const stop = new AbortController();
      const server = fakeServer(() => {
        if (server.calls.length === values.length) stop.abort();
      });
      const log = memoryLogger("info");
      await runNodeHealth({
        selfCheck: new SelfCheck(SETTINGS, {
          ec2: fakeEc2({ instances: [thisNode()] }),
          readTextFile: reads(...values),
          clock: steppedClock(),
          log: memoryLogger(),
        }),
        thresholds: { fall: 2, rise: 2 },
        server,
        periodMs: 200,
        log,
        clock: steppedClock(),
      }, stop.signal);
      assert.deepEqual(server.calls, [true, true, true, false, false, false, true, true, true]);
      assert.ok(server.closed, "the port is closed when the loop ends");
      const events = log.lines.map((line) => line.split(" ")[2]);
      assert.deepEqual(
        events.filter((e) => e?.startsWith("self_check.")),
        ["self_check.passed", "self_check.failed", "self_check.passed"],
        "one line per transition",
      );
      assert.ok(
        log.lines.some((l) => /WARN self_check\.failed reason=ip_forward_off detail=/.test(l)),
        log.lines.join("\n"),
      );
      assert.deepEqual(
        events.filter((e) => e?.startsWith("health_server.")),
        ["health_server.listening", "health_server.closed", "health_server.listening"],
      );
    },
  );

  await t.step("runNodeHealth() without a self-check keeps the port open", async () => {
    const stop = new AbortController();
    const server = fakeServer(() => {
      if (server.calls.length === 3) stop.abort();
    });
    await runNodeHealth({
      selfCheck: undefined,
      thresholds: { fall: 1, rise: 1 },
      server,
      periodMs: 200,
      log: memoryLogger(),
      clock: steppedClock(),
    }, stop.signal);
    assert.deepEqual(server.calls, [true, true, true]);
  });

  await t.step("runNodeHealth() logs an unknown source/dest check once, as a warning", async () => {
    const stop = new AbortController();
    const server = fakeServer(() => {
      if (server.calls.length === 3) stop.abort();
    });
    const log = memoryLogger("info");
    await runNodeHealth({
      selfCheck: new SelfCheck(SETTINGS, {
        ec2: failingEc2(new Error("DescribeInstances failed: NetworkError")),
        readTextFile: reads("1"),
        clock: steppedClock(),
        log: memoryLogger(),
      }),
      thresholds: { fall: 1, rise: 1 },
      server,
      periodMs: 200,
      log,
      clock: steppedClock(),
    }, stop.signal);
    assert.deepEqual(server.calls, [true, true, true], "EC2 down does not close the port");
    assert.equal(log.lines.filter((l) => l.includes("source_dest_check_unknown")).length, 1);
  });
});

Deno.test("startNodeHealth()", async (t) => {
  const config = {
    selfCheck: false,
    serveHealth: undefined,
    egressCheck: undefined,
    vpcId: "vpc-0123abcd",
    clusterId: "squid",
    timeoutMs: 100,
    probeAttempts: 1,
    intervalMs: 1_000,
    probeIntervalMs: 50,
    fall: 2,
    rise: 2,
    ipForwardPath: "/proc/sys/net/ipv4/ip_forward",
    serveHealthAddress: "0.0.0.0",
    dryRun: false,
  };
  /** `ipForwardPath`: the only file the self-check may read. */
  const deps = (ipForwardPath: string, log = memoryLogger()) => ({
    ec2: fakeEc2({ instances: [thisNode()] }),
    log,
    clock: realClock,
    instanceId: SELF,
    readTextFile: (path: string) => {
      assert.equal(path, ipForwardPath);
      return Promise.resolve("1");
    },
  });

  await t.step("startNodeHealth() does nothing without either flag", async () => {
    const log = memoryLogger();
    await startNodeHealth(config, deps(config.ipForwardPath, log), new AbortController().signal)
      .stop();
    assert.deepEqual(log.lines, []);
  });

  await t.step(
    "startNodeHealth() --self-check without --serve-health says peers cannot see it",
    async () => {
      const log = memoryLogger();
      const health = startNodeHealth(
        { ...config, selfCheck: true, ipForwardPath: "/tmp/ip_forward" },
        deps("/tmp/ip_forward", log),
        AbortSignal.abort(),
      );
      await health.stop();
      assert.ok(
        log.lines.some((l) =>
          /ERROR self_check\.not_served .*peers cannot see.*--serve-health PORT/.test(l)
        ),
        log.lines.join("\n"),
      );
    },
  );

  await t.step(
    "startNodeHealth() --serve-health alone serves the port at the configured address",
    async () => {
      const hostname = "127.0.77.2";
      const probe = Deno.listen({ hostname, port: 0 });
      const port = (probe.addr as Deno.NetAddr).port;
      probe.close();
      const log = memoryLogger();
      const health = startNodeHealth(
        { ...config, serveHealth: port, serveHealthAddress: hostname },
        deps(config.ipForwardPath, log),
        new AbortController().signal,
      );
      try {
        const connect = createTcpProbe({ port, timeoutMs: 500 });
        let result = await connect({ instanceId: SELF, address: hostname });
        for (let n = 0; !result.healthy && n < 50; n++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          result = await connect({ instanceId: SELF, address: hostname });
        }
        assert.ok(result.healthy, `connect to ${hostname}:${port}: ${result.error}`);
      } finally {
        await health.stop();
      }
      const after = await createTcpProbe({ port, timeoutMs: 500 })({
        instanceId: SELF,
        address: hostname,
      });
      assert.equal(after.error, "refused", "stopping closes the port");
      assert.ok(log.lines.some((l) => l.includes(`health_server.listening address=${hostname}`)));
    },
  );
});
