/** @module Tests for the health port: accepts while serving, refuses while not, reopens. */
import assert from "node:assert/strict";
import { createHealthServer } from "./health_server.ts";
import { createTcpProbe } from "./probe.ts";

const HOST = "127.0.77.1";

async function connects(port: number): Promise<string> {
  const result = await createTcpProbe({ port, timeoutMs: 1000 })({
    instanceId: "i-self",
    address: HOST,
  });
  return result.healthy ? "accepted" : result.error ?? "failed";
}

Deno.test("health server", async (t) => {
  const server = createHealthServer({ hostname: HOST, port: 0 });
  try {
    await t.step("is closed until told to serve", () => {
      assert.equal(server.serving, false);
    });

    await t.step("accepts (and closes) connections while serving", async () => {
      assert.deepEqual(await server.setServing(true), { ok: true });
      assert.equal(server.serving, true);
      assert.notEqual(server.port, 0, "bound to a real port");
      assert.equal(await connects(server.port), "accepted");
      assert.equal(await connects(server.port), "accepted");
      for (let wait = 0; server.accepted < 2 && wait < 100; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(server.accepted, 2, "each connect counted once accepted");
    });

    await t.step("serving twice keeps the same listener", async () => {
      const port = server.port;
      assert.deepEqual(await server.setServing(true), { ok: true });
      assert.equal(server.port, port);
      assert.equal(await connects(port), "accepted");
    });

    await t.step("refuses connections at once when told to stop", async () => {
      assert.deepEqual(await server.setServing(false), { ok: true });
      assert.equal(server.serving, false);
      assert.equal(await connects(server.port), "refused");
      assert.deepEqual(await server.setServing(false), { ok: true }, "stopping twice is fine");
    });

    await t.step("reopens on the same port when told to serve again", async () => {
      const port = server.port;
      assert.deepEqual(await server.setServing(true), { ok: true });
      assert.equal(server.port, port);
      assert.equal(await connects(port), "accepted");
    });

    await t.step("applies quick switches in order", async () => {
      const outcomes = await Promise.all([
        server.setServing(false),
        server.setServing(true),
        server.setServing(false),
      ]);
      assert.ok(outcomes.every((o) => o.ok));
      assert.equal(server.serving, false);
      assert.equal(await connects(server.port), "refused");
    });
  } finally {
    await server.close();
  }
  await t.step("stays closed after close()", async () => {
    assert.deepEqual(await server.setServing(true), { ok: true });
    assert.equal(server.serving, false);
    assert.equal(await connects(server.port), "refused");
  });
});

Deno.test("health server reports a port already taken as a value, and retries", async () => {
  const squid = Deno.listen({ hostname: HOST, port: 0 });
  const port = (squid.addr as Deno.NetAddr).port;
  const server = createHealthServer({ hostname: HOST, port });
  try {
    const outcome = await server.setServing(true);
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error, "address_in_use");
    assert.equal(server.serving, false);
    squid.close();
    assert.deepEqual(await server.setServing(true), { ok: true }, "opens once the port is free");
    assert.equal(await connects(port), "accepted");
  } finally {
    try {
      squid.close();
    } catch { /* closed above */ }
    await server.close();
  }
});
