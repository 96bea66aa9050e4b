/**
 * @module The metrics HTTP adapter: `Deno.serve` on one address, answering `GET /metrics`
 * (and `HEAD`) with the exposition the caller renders, 405 for other methods there and 404
 * everywhere else. Nothing else is served. `close()` stops listening, closes idle keep-alive
 * connections and waits for answers in flight.
 */
import { formatHostPort } from "../core/parse.ts";
import { CONTENT_TYPE } from "./prometheus.ts";

export interface MetricsServerOptions {
  /** An IPv4 or IPv6 address (no brackets) or a host name; `0.0.0.0` for every interface. */
  readonly hostname: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Renders the exposition on each scrape. */
  readonly render: () => string;
}

export interface MetricsServer {
  /** `127.0.0.1:9100`, `[::1]:9100`: where it listens (the actual port when 0 was asked). */
  readonly address: string;
  readonly port: number;
  /** Stops the server; resolves once it no longer holds a socket. */
  close(): Promise<void>;
}

/** `/metrics`, answered; anything else: 404. Exported for tests. */
export function handleMetricsRequest(request: Request, render: () => string): Response {
  const path = new URL(request.url).pathname;
  if (path !== "/metrics") {
    return new Response("Not found: metrics are at /metrics\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed: use GET\n", {
      status: 405,
      headers: { "allow": "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
    });
  }
  const body = render();
  return new Response(request.method === "HEAD" ? null : body, {
    status: 200,
    headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" },
  });
}

/**
 * Starts listening at once; throws what `Deno.serve` throws when it cannot (`AddrInUse`,
 * `NotCapable` when the permission set does not allow listening there, ...).
 */
export function serveMetrics(options: MetricsServerOptions): MetricsServer {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {}, // the caller logs `metrics.listening`; nothing on stdout
    onError: () =>
      new Response("Internal error while rendering the metrics\n", {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      }),
  }, (request) => handleMetricsRequest(request, options.render));
  const addr = server.addr;
  let closed: Promise<void> | undefined;
  return {
    address: formatHostPort(addr),
    port: addr.port,
    close() {
      closed ??= server.shutdown().then(() => server.finished);
      return closed;
    },
  };
}
