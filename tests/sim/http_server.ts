/**
 * @module A minimal HTTP/1.1 server on a raw TCP listener, shared by the simulated EC2 and
 * metadata endpoints. Unlike `Deno.serve` it can cut a connection mid-answer (a network
 * error to the client, with no noise on the console), and stop listening then listen
 * again on the same port (clients get "connection refused" meanwhile). Keep-alive, one
 * request at a time per connection; request bodies need `Content-Length` (no chunked
 * uploads: 411).
 */

export interface HttpRequest {
  readonly method: string;
  /** Path and query, as sent: `/latest/api/token`. */
  readonly target: string;
  readonly headers: Headers;
  readonly body: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * Returned by a handler: cut the connection, so the client sees a network error: a response
 * head, then the body breaks off.
 */
export const DROP: unique symbol = Symbol("drop");
/**
 * Returned by a handler: send a response head and the first bytes of the body, then nothing
 * more until the client gives up or the server stops (a body that stalls after the head).
 */
export const STALL: unique symbol = Symbol("stall");
export type HttpAnswer = HttpResponse | typeof DROP | typeof STALL;
export type HttpHandler = (
  request: HttpRequest,
  signal: AbortSignal,
) => HttpAnswer | Promise<HttpAnswer>;

export interface HttpServerOptions {
  readonly hostname?: string;
  readonly port?: number;
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  411: "Length Required",
  412: "Precondition Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const encoder = new TextEncoder();
/**
 * What `DROP` sends before closing. Closing without a byte is not enough: fetch resends a
 * request transparently when a reused keep-alive connection closes before the response head.
 */
const TRUNCATED_RESPONSE = encoder.encode(
  "HTTP/1.1 200 OK\r\ncontent-type: text/xml;charset=UTF-8\r\ncontent-length: 4096\r\n\r\n<?xml",
);
const decoder = new TextDecoder();
/** How long a stalled answer holds its connection at most (the server's stop ends it). */
const STALL_MS = 10 * 60_000;

class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

export class HttpServer {
  readonly hostname: string;
  readonly port: number;
  readonly #handler: HttpHandler;
  readonly #abort = new AbortController();
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> = Promise.resolve();

  constructor(handler: HttpHandler, options: HttpServerOptions = {}) {
    this.#handler = handler;
    this.hostname = options.hostname ?? "127.0.0.1";
    this.#listener = Deno.listen({ hostname: this.hostname, port: options.port ?? 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept(this.#listener);
  }

  get url(): string {
    return `http://${this.hostname}:${this.port}`;
  }

  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** Stop listening and close every connection: connections are refused until `listen()`. */
  async stop(): Promise<void> {
    this.#listener?.close();
    this.#listener = undefined;
    for (const connection of this.#connections) connection.close();
    this.#connections.clear();
    await this.#accepting; // the socket really closes once the accept loop has ended
  }

  /** Listen again on the same address and port after `stop()`. */
  listen(): void {
    if (this.#listener) return;
    this.#listener = Deno.listen({ hostname: this.hostname, port: this.port });
    this.#accepting = this.#accept(this.#listener);
  }

  /** Stop, cut short the handlers' waits (their `signal` aborts) and wait for every task. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.stop();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const connection of listener) {
        if (this.#abort.signal.aborted) {
          connection.close();
          continue;
        }
        this.#connections.add(connection);
        this.#track(this.#serve(connection));
      }
    } catch {
      // The listener was closed.
    }
  }

  async #serve(connection: Deno.Conn): Promise<void> {
    const reader = new RequestReader(connection);
    try {
      for (;;) {
        let request: HttpRequest | undefined;
        try {
          request = await reader.next();
        } catch (error) {
          if (!(error instanceof BadRequest)) throw error;
          const body = `${error.message}\n`;
          await writeAll(connection, encodeResponse({ status: error.status, body }, false));
          return;
        }
        if (request === undefined) return;
        const answer = await this.#handler(request, this.#abort.signal);
        if (!this.#connections.has(connection)) return;
        if (answer === DROP) return await writeAll(connection, TRUNCATED_RESPONSE);
        if (answer === STALL) {
          await writeAll(connection, TRUNCATED_RESPONSE);
          return await sleep(STALL_MS, this.#abort.signal);
        }
        const keepAlive = request.headers.get("connection")?.toLowerCase() !== "close";
        await writeAll(connection, encodeResponse(answer, keepAlive));
        if (!keepAlive) return;
      }
    } catch {
      // The client went away, or the server was stopped.
    } finally {
      if (this.#connections.delete(connection)) connection.close();
    }
  }
}

class RequestReader {
  readonly #connection: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(connection: Deno.Conn) {
    this.#connection = connection;
  }

  /** The next request, or `undefined` when the client closed the connection between two. */
  async next(): Promise<HttpRequest | undefined> {
    let end: number;
    while ((end = headEnd(this.#buffer)) < 0) {
      if (this.#buffer.length > MAX_HEAD_BYTES) throw new BadRequest(431, "Header too large");
      if (!(await this.#fill())) {
        if (this.#buffer.length === 0) return undefined;
        throw new Error("Connection closed inside a request head");
      }
    }
    const [requestLine = "", ...lines] = decoder.decode(this.#buffer.subarray(0, end)).split(
      "\r\n",
    );
    const [method, target, version] = requestLine.split(" ");
    if (!method || !target?.startsWith("/") || !version?.startsWith("HTTP/1.")) {
      throw new BadRequest(400, `Malformed request line "${requestLine}"`);
    }
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new BadRequest(400, `Malformed header line "${line}"`);
      try {
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      } catch {
        throw new BadRequest(400, `Malformed header line "${line}"`);
      }
    }
    if (headers.has("transfer-encoding")) throw new BadRequest(411, "Content-Length required");
    const length = Number(headers.get("content-length") ?? "0");
    if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) {
      throw new BadRequest(400, "Invalid Content-Length");
    }
    const start = end + 4;
    while (this.#buffer.length < start + length) {
      if (!(await this.#fill())) throw new Error("Connection closed inside a request body");
    }
    const body = decoder.decode(this.#buffer.subarray(start, start + length));
    this.#buffer = this.#buffer.slice(start + length);
    return { method, target, headers, body };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const read = await this.#connection.read(chunk);
    if (read === null) return false;
    const grown = new Uint8Array(this.#buffer.length + read);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, read), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }
}

function headEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function encodeResponse(response: HttpResponse, keepAlive: boolean): Uint8Array {
  const body = encoder.encode(response.body ?? "");
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    ...response.headers,
    "content-length": String(body.length),
    "date": new Date().toUTCString(),
    "connection": keepAlive ? "keep-alive" : "close",
  };
  const head = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Unknown"}\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n";
  const headBytes = encoder.encode(head);
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  return bytes;
}

async function writeAll(connection: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await connection.write(bytes.subarray(written));
  }
}
