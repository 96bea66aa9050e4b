/**
 * @module The program the namespace world runs inside its namespaces (never the router): one
 * JSON argument says what to do.
 * - `squid`: accept and close TCP connections on a port (the stand-in for squid);
 * - `relays`: listen on TCP (or TLS) addresses and pipe each connection to a Unix socket the
 *   test process serves (how the metadata service and the EC2 endpoint, which live in the test
 *   process, answer inside a namespace);
 * - `bridges`: in the host's namespace, the other end: each Unix socket piped to a TCP port
 *   on 127.0.0.1;
 * - `sink`: a UDP sink and a TCP server printing, for every datagram or connection, its
 *   sender's subnet, sequence number, source address after NAT and arrival time;
 * - `client`: sends a numbered datagram every `everyMs`, and opens a TCP connection every
 *   `tcpEveryMs`, to the sink.
 * Prints `ready` once listening. Output lines: `u <subnet> <seq> <source> <ms>` and
 * `t <subnet> <source> <ms>`.
 */

export interface AgentSpec {
  readonly squidPort?: number;
  readonly relays?: readonly {
    readonly hostname: string;
    readonly port: number;
    readonly socket: string;
    readonly certFile?: string;
    readonly keyFile?: string;
  }[];
  /** In the host's namespace: Unix socket → TCP on 127.0.0.1 (the simulators). */
  readonly bridges?: readonly { readonly socket: string; readonly port: number }[];
  readonly sink?: { readonly udpPort: number; readonly tcpPort: number };
  readonly client?: {
    readonly subnet: string;
    readonly host: string;
    readonly udpPort: number;
    readonly tcpPort: number;
    readonly everyMs: number;
    readonly tcpEveryMs: number;
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const out: string[] = [];
let flushing = false;

function print(line: string): void {
  out.push(line);
  if (flushing) return;
  flushing = true;
  queueMicrotask(async () => {
    while (out.length > 0) {
      const chunk = out.splice(0).join("\n") + "\n";
      await Deno.stdout.write(encoder.encode(chunk));
    }
    flushing = false;
  });
}

async function pipe(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  const copy = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true });
    } catch { /* closed */ }
    try {
      await to.closeWrite();
    } catch { /* closed */ }
  };
  await Promise.all([copy(a, b), copy(b, a)]);
  for (const conn of [a, b]) {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

async function relay(spec: NonNullable<AgentSpec["relays"]>[number]): Promise<void> {
  const listener = spec.certFile && spec.keyFile
    ? Deno.listenTls({
      hostname: spec.hostname,
      port: spec.port,
      cert: Deno.readTextFileSync(spec.certFile),
      key: Deno.readTextFileSync(spec.keyFile),
    })
    : Deno.listen({ hostname: spec.hostname, port: spec.port });
  for await (const conn of listener) {
    Deno.connect({ transport: "unix", path: spec.socket }).then(
      (upstream) => pipe(conn, upstream),
      () => conn.close(),
    );
  }
}

async function bridge(spec: NonNullable<AgentSpec["bridges"]>[number]): Promise<void> {
  for await (const conn of Deno.listen({ transport: "unix", path: spec.socket })) {
    Deno.connect({ hostname: "127.0.0.1", port: spec.port }).then(
      (upstream) => pipe(conn, upstream),
      () => conn.close(),
    );
  }
}

async function squid(port: number): Promise<void> {
  for await (const conn of Deno.listen({ hostname: "0.0.0.0", port })) conn.close();
}

async function sink(spec: NonNullable<AgentSpec["sink"]>): Promise<void> {
  const udp = Deno.listenDatagram({ hostname: "0.0.0.0", port: spec.udpPort, transport: "udp" });
  const tcp = Deno.listen({ hostname: "0.0.0.0", port: spec.tcpPort });
  const datagrams = (async () => {
    for await (const [data, from] of udp) {
      const [subnet, seq] = decoder.decode(data).split(" ");
      print(`u ${subnet} ${seq} ${(from as Deno.NetAddr).hostname} ${Date.now()}`);
    }
  })();
  const connections = (async () => {
    for await (const conn of tcp) {
      const at = Date.now();
      const from = (conn.remoteAddr as Deno.NetAddr).hostname;
      (async () => {
        const buffer = new Uint8Array(64);
        const n = await conn.read(buffer).catch(() => null);
        if (n) print(`t ${decoder.decode(buffer.subarray(0, n)).trim()} ${from} ${at}`);
        conn.close();
      })();
    }
  })();
  await Promise.all([datagrams, connections]);
}

async function client(spec: NonNullable<AgentSpec["client"]>): Promise<void> {
  const socket = Deno.listenDatagram({ hostname: "0.0.0.0", port: 0, transport: "udp" });
  const target = { transport: "udp" as const, hostname: spec.host, port: spec.udpPort };
  let seq = 0;
  setInterval(() => {
    socket.send(encoder.encode(`${spec.subnet} ${seq++}`), target).catch(() => {});
  }, spec.everyMs);
  setInterval(() => {
    const abort = AbortSignal.timeout(spec.tcpEveryMs * 4);
    Deno.connect({ hostname: spec.host, port: spec.tcpPort, signal: abort }).then(
      async (conn) => {
        await conn.write(encoder.encode(`${spec.subnet}\n`)).catch(() => {});
        conn.close();
      },
      () => {},
    );
  }, spec.tcpEveryMs);
  await new Promise(() => {});
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0] ?? "{}") as AgentSpec;
  const tasks: Promise<void>[] = [];
  if (spec.squidPort !== undefined) tasks.push(squid(spec.squidPort));
  for (const r of spec.relays ?? []) tasks.push(relay(r));
  for (const b of spec.bridges ?? []) tasks.push(bridge(b));
  if (spec.sink) tasks.push(sink(spec.sink));
  if (spec.client) tasks.push(client(spec.client));
  // Listeners are open once their constructors ran, within this tick.
  await new Promise((resolve) => setTimeout(resolve, 0));
  print("ready");
  await Promise.all(tasks);
}
