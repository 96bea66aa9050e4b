import assert from "node:assert/strict";
import { createTcpProbe } from "./probe.ts";
import { NatListener } from "../../tests/sim/nat.ts";

Deno.test("createTcpProbe() with staggered attempts", async (t) => {
  await t.step(
    "a listening port passes at the first connect; the others are never made",
    async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      let accepted = 0;
      const accepting = (async () => {
        for await (const conn of listener) {
          accepted += 1;
          conn.close();
        }
      })();
      const probe = createTcpProbe({ port, timeoutMs: 300, attempts: 6 });
      const result = await probe({ instanceId: "i-1", address: "127.0.0.1" });
      await new Promise((resolve) => setTimeout(resolve, 400));
      listener.close();
      await accepting;
      assert.equal(result.healthy, true);
      assert.equal(accepted, 1, "one connection, not six");
    },
  );

  await t.step("a refused port fails the check at once, not after the attempts", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const probe = createTcpProbe({ port, timeoutMs: 1_000, attempts: 6 });
    const result = await probe({ instanceId: "i-1", address: "127.0.0.1" });
    assert.equal(result.healthy, false);
    assert.equal(result.error, "refused");
    assert.ok(result.latencyMs < 500, `failed after ${result.latencyMs}ms`);
  });

  await t.step(
    "a silent port fails once every attempt has had its full timeout, and leaves nothing open",
    async () => {
      const nat = new NatListener(["127.0.0.1"], 0);
      try {
        await nat.setMode("silent");
        const probe = createTcpProbe({ port: nat.port, timeoutMs: 120, attempts: 4 });
        const result = await probe({ instanceId: "i-1", address: "127.0.0.1" });
        assert.equal(result.healthy, false);
        assert.equal(result.error, "timeout");
        // The last attempt starts at 3 × 30 ms and is abandoned 120 ms later.
        assert.ok(result.latencyMs >= 200, `failed after ${result.latencyMs}ms, not at 210`);
        await nat.setMode("up");
        const again = await probe({ instanceId: "i-1", address: "127.0.0.1" });
        assert.equal(again.healthy, true, `up again: ${again.error}`);
      } finally {
        await nat.close();
      }
    },
  );

  await t.step("no address fails without a connect", async () => {
    const probe = createTcpProbe({ port: 1, timeoutMs: 100, attempts: 3 });
    const result = await probe({ instanceId: "i-1", address: undefined });
    assert.deepEqual(result, {
      instanceId: "i-1",
      healthy: false,
      error: "no_address",
      latencyMs: 0,
    });
  });
});

Deno.test("createTcpProbe() with a refusal window", async (t) => {
  await t.step("a refusal shorter than the window passes the check", async () => {
    const probe0 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe0.addr as Deno.NetAddr).port;
    probe0.close();
    let listener: Deno.Listener | undefined;
    const opening = new Promise<void>((resolve) =>
      setTimeout(() => {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
        resolve();
      }, 150)
    );
    const probe = createTcpProbe({ port, timeoutMs: 100, attempts: 6, refusalWindowMs: 600 });
    const result = await probe({ instanceId: "i-1", address: "127.0.0.1" });
    await opening;
    listener?.close();
    assert.equal(result.healthy, true, `refused for 150 ms of a 600 ms window: ${result.error}`);
  });

  await t.step("a refusal that lasts the window fails the check after it", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const probe = createTcpProbe({ port, timeoutMs: 100, attempts: 6, refusalWindowMs: 300 });
    const result = await probe({ instanceId: "i-1", address: "127.0.0.1" });
    assert.equal(result.healthy, false);
    assert.equal(result.error, "refused");
    assert.ok(result.latencyMs >= 300, `failed after ${result.latencyMs}ms, not before 300`);
  });
});
