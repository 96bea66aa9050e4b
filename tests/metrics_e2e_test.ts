/**
 * @module End-to-end: `--metrics-listen` on the real program against the simulated VPC. Scrapes
 * the exposition during a failover and a throttled Describe, parses every line with a small
 * parser of the text format 0.0.4, and checks the counters move as they should. Also the
 * HTTP adapter on its own: what it answers, and that it closes without leaking.
 */
import assert from "node:assert/strict";
import { CONTENT_TYPE } from "../lib/adapters/prometheus.ts";
import { serveMetrics } from "../lib/adapters/metrics_server.ts";
import {
  FAST,
  freePort,
  misrouting,
  routerArgs,
  targets,
  waitUntil,
  waitUntilRouted,
} from "./e2e.ts";
import { runRouter, simEnv, startRouter } from "./router_process.ts";
import { SimVpc } from "./sim/vpc.ts";

// ---------------------------------------------------------------------------------------
// A small parser of the text exposition format 0.0.4.

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly helps: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  assert.match(text, /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, `bad value in: ${line}`);
  return Number(text);
}

/** Parses the exposition, failing on any line the format does not allow. */
function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith("\n"), "the exposition ends with a line feed");
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === "TYPE") {
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.ok(!types.has(name), `TYPE given twice for ${name}`);
        assert.ok(
          !samples.some((s) => familyOf(s.name, types) === name),
          `TYPE after samples: ${line}`,
        );
        types.set(name, rest);
      } else {
        assert.match(rest, /^(?:[^\\]|\\[\\n])*$/, `bad escape in HELP: ${line}`);
        helps.set(name, rest);
      }
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment: ${line}`);
    const name = NAME.exec(line)?.[0];
    assert.ok(name, `no metric name in: ${line}`);
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const label = LABEL.exec(rest);
        assert.ok(label, `bad label in: ${line}`);
        const [all, key, raw] = label as unknown as [string, string, string];
        assert.ok(!(key in labels), `label ${key} twice in: ${line}`);
        labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
        rest = rest.slice(all.length);
        if (rest.startsWith(",")) rest = rest.slice(1);
      }
      rest = rest.slice(1);
    }
    const parts = rest.split(" ");
    assert.ok(parts[0] === "" && (parts.length === 2 || parts.length === 3), `bad sample: ${line}`);
    samples.push({ name, labels, value: parseValue(parts[1]!, line) });
  }
  for (const sample of samples) {
    const family = familyOf(sample.name, types);
    assert.ok(family, `sample ${sample.name} has no TYPE line`);
    assert.ok(helps.has(family), `${family} has no HELP line`);
  }
  return { types, helps, samples };
}

/** The declared family a sample belongs to (`x_bucket` → `x` for a histogram). */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return types.get(base) === "histogram" ? base : undefined;
}

/** The value of the one sample with this name and these labels (others ignored); 0 if none. */
function value(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = exposition.samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length}`);
  return found[0]?.value ?? 0;
}

async function scrape(address: string): Promise<Exposition> {
  const response = await fetch(`http://${address}/metrics`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get("content-type"), CONTENT_TYPE);
  return parseExposition(text);
}

// ---------------------------------------------------------------------------------------

Deno.test("parseExposition() accepts the format and rejects what it does not allow", async (t) => {
  await t.step("a valid document with escapes, a histogram and special values", () => {
    const e = parseExposition(
      [
        "# HELP a_total Help with \\\\ and \\n",
        "# TYPE a_total counter",
        'a_total{x="q\\"uote",y="line\\nfeed"} 3',
        "# HELP h_seconds H",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="+Inf"} 1',
        "h_seconds_sum NaN",
        "h_seconds_count 1",
        "",
      ].join("\n"),
    );
    assert.equal(value(e, "a_total", { x: 'q"uote', y: "line\nfeed" }), 3);
    assert.ok(Number.isNaN(value(e, "h_seconds_sum")));
  });
  const bad: [string, string][] = [
    ["a sample without TYPE", "x 1\n"],
    ["an unquoted label value", "# HELP x x\n# TYPE x gauge\nx{a=b} 1\n"],
    ["a bad escape", '# HELP x x\n# TYPE x gauge\nx{a="\\t"} 1\n'],
    ["a bad escape in HELP", "# HELP x a \\t\n# TYPE x gauge\nx 1\n"],
    ["a missing value", "# HELP x x\n# TYPE x gauge\nx\n"],
    ["a missing final line feed", "# HELP x x\n# TYPE x gauge\nx 1"],
  ];
  for (const [name, text] of bad) {
    await t.step(`rejects ${name}`, () => assert.throws(() => parseExposition(text)));
  }
});

Deno.test("serveMetrics() answers GET /metrics, 405 and 404 otherwise, and closes cleanly", async () => {
  let scrapes = 0;
  const server = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    render: () => `# HELP up_total x\n# TYPE up_total counter\nup_total ${++scrapes}\n`,
  });
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    const base = `http://${server.address}`;
    const get = await fetch(`${base}/metrics`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-type"), CONTENT_TYPE);
    assert.equal(value(parseExposition(await get.text()), "up_total"), 1);
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
    for (const path of ["/", "/metrics/", "/favicon.ico", "/metrics?x=1#"]) {
      const response = await fetch(`${base}${path}`);
      await response.body?.cancel();
      const expected = path.startsWith("/metrics?") ? 200 : 404;
      assert.equal(response.status, expected, path);
    }
  } finally {
    await server.close();
    await server.close(); // twice is fine
  }
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.port }),
    Deno.errors.ConnectionRefused,
    "nothing listens after close()",
  );
});

Deno.test("serveMetrics() throws when the address is taken", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    assert.throws(
      () => serveMetrics({ hostname: "127.0.0.1", port, render: () => "" }),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
});

Deno.test("router --metrics-listen: counters move during a failover and a throttle", async (t) => {
  const vpc = await SimVpc.standard();
  const address = `127.0.0.1:${freePort()}`;
  const router = startRouter({
    args: routerArgs(vpc, [...FAST, "--metrics-listen", address]),
    env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
  });
  let stopped = false;
  try {
    const [a1, a2, b1] = vpc.fleet.natIds as [string, string, string];
    await router.waitFor(new RegExp(`INFO metrics\\.listening address=${address}`));
    await waitUntilRouted("the initial allocation", vpc, [a1, a2, b1]);
    const poll = (what: string, check: (e: Exposition) => boolean) => {
      let last: Exposition | undefined;
      let failure: unknown;
      let scraping = false;
      return waitUntil(what, () => {
        if (failure !== undefined) throw failure;
        if (!scraping) {
          scraping = true;
          void scrape(address).then((e) => last = e, (error) => failure = error)
            .finally(() => scraping = false);
        }
        return last !== undefined && check(last);
      }).then(() => last!, (error) => {
        throw new Error(`${error.message}; last scrape:\n${JSON.stringify(last?.samples)}`);
      });
    };

    let before!: Exposition;
    await t.step("after the first cycle: healthy NATs, targets, leader, creates", async () => {
      before = await poll(
        "the six creates are counted",
        (e) => value(e, "aws_nat_router_route_changes_total", { reason: "no_route" }) === 6,
      );
      assert.equal(value(before, "aws_nat_router_build_info"), 1);
      for (const id of [a1, a2, b1]) {
        const zone = vpc.ec2.instance(id)!.zone;
        assert.equal(
          value(before, "aws_nat_router_nat_healthy", { instance_id: id, zone }),
          1,
          `${id} healthy`,
        );
        assert.ok(
          value(before, "aws_nat_router_probes_total", { instance_id: id, result: "ok" }) >= 2,
        );
        assert.ok(
          value(before, "aws_nat_router_probe_duration_seconds_count", { instance_id: id }) >= 2,
        );
      }
      assert.equal(value(before, "aws_nat_router_leader", { instance_id: a1 }), 1);
      assert.equal(before.samples.filter((s) => s.name === "aws_nat_router_leader").length, 1);
      assert.equal(value(before, "aws_nat_router_is_leader"), 1, "without election it acts");
      for (const [table, target] of Object.entries(targets(vpc))) {
        assert.equal(
          value(before, "aws_nat_router_route_table_target", {
            route_table_id: table,
            instance_id: target!,
          }),
          1,
          `${table} → ${target}`,
        );
      }
      assert.equal(
        value(before, "aws_nat_router_ec2_calls_total", { action: "CreateRoute", outcome: "ok" }),
        6,
      );
      assert.ok(value(before, "aws_nat_router_cycle_duration_seconds_count") >= 1);
      const last = value(before, "aws_nat_router_last_success_timestamp_seconds");
      assert.ok(Math.abs(last - Date.now() / 1000) < 60, `last success ${last} is recent`);
      assert.equal(before.types.get("aws_nat_router_probe_duration_seconds"), "histogram");
      assert.equal(before.types.get("aws_nat_router_route_changes_total"), "counter");
    });

    await t.step(
      "a refusing NAT: health 0, its tables counted as nat_unhealthy moves",
      async () => {
        const its = Object.entries(targets(vpc)).filter(([, id]) => id === b1).map(([t]) => t);
        assert.ok(its.length > 0, "b1 carries tables");
        const replaced = (e: Exposition) =>
          value(e, "aws_nat_router_ec2_calls_total", { action: "ReplaceRoute", outcome: "ok" });
        const unhealthyMoves = (e: Exposition) =>
          value(e, "aws_nat_router_route_changes_total", { reason: "nat_unhealthy" });
        await vpc.nat(b1).setMode("refusing");
        await waitUntilRouted("b1's tables moved", vpc, [a1, a2]);
        const after = await poll(
          "the moves are counted",
          (e) => unhealthyMoves(e) - unhealthyMoves(before) === its.length,
        );
        const zone = vpc.ec2.instance(b1)!.zone;
        assert.equal(value(after, "aws_nat_router_nat_healthy", { instance_id: b1, zone }), 0);
        assert.ok(
          // --fall 1 by default: one refused check is the verdict
          value(after, "aws_nat_router_probes_total", { instance_id: b1, result: "refused" }) >= 1,
        );
        assert.ok(replaced(after) - replaced(before) >= its.length, "ReplaceRoute ok counted");
        for (const table of its) {
          const series = after.samples.filter((s) =>
            s.name === "aws_nat_router_route_table_target" && s.labels.route_table_id === table
          );
          assert.equal(series.length, 1);
          assert.notEqual(series[0]!.labels.instance_id, b1, `${table} no longer on b1`);
        }
      },
    );

    await t.step("a throttled Describe shows as outcome RequestLimitExceeded", async () => {
      // The SDK retries a throttle twice more (3 attempts); a call counts once, with the
      // outcome of its last attempt, so three throttles in a row make one failed call.
      vpc.ec2Server.inject("throttle", { action: "DescribeRouteTables", count: 3 });
      const throttled = await poll(
        "the throttle is counted",
        (e) =>
          value(e, "aws_nat_router_ec2_calls_total", {
            action: "DescribeRouteTables",
            outcome: "RequestLimitExceeded",
          }) === 1,
      );
      assert.ok(
        value(throttled, "aws_nat_router_ec2_calls_total", {
          action: "DescribeRouteTables",
          outcome: "ok",
        }) > 0,
      );
      await router.waitFor(/ERROR discovery\.failed .*code=RequestLimitExceeded/);
    });

    await t.step("anything but /metrics is 404", async () => {
      const response = await fetch(`http://${address}/`);
      await response.body?.cancel();
      assert.equal(response.status, 404);
    });

    await t.step("SIGTERM stops the server with the router", async () => {
      stopped = true;
      assert.equal(await router.stop(), 0);
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port: Number(address.split(":")[1]) }),
        Deno.errors.ConnectionRefused,
      );
    });
  } finally {
    if (!stopped) await router.stop();
    await vpc.close();
  }
});

Deno.test("router --metrics-listen on an address it may not use: logged, and it routes anyway", async () => {
  const vpc = await SimVpc.standard();
  try {
    // The audited permission set plus loopback does not cover the wildcard address.
    const { code, stderr } = await runRouter({
      args: routerArgs(vpc, ["--once", "--metrics-listen", `:${freePort()}`]),
      env: simEnv({ ec2: vpc.ec2Endpoint }, vpc.routerEnv()),
    });
    assert.equal(code, 0, stderr.join("\n"));
    assert.ok(
      stderr.some((l) =>
        /ERROR metrics\.failed address=0\.0\.0\.0:\d+ error="net access to \\"0\.0\.0\.0:\d+\\" is outside the permission set; add it to the \\"default\\" permission set in deno\.json, then rebuild with deno task compile"/
          .test(l)
      ),
      stderr.join("\n"),
    );
    const problem = misrouting(vpc, vpc.fleet.natIds);
    assert.equal(problem, undefined, `routes were no longer allocated: ${problem}`);
  } finally {
    await vpc.close();
  }
});
