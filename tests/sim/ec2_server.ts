/**
 * @module The simulated EC2 endpoint: the Query protocol over HTTP on 127.0.0.1 (form-encoded
 * `POST /`, SigV4 `Authorization` required but not verified, XML answers and EC2's error
 * XML), in front of an `Ec2Sim`. Owns fault injection (throttling, 500s, dropped
 * connections, latency, down), the call log and the access key seen on each call.
 */

import { ACTIONS, Ec2Error, type Params, runAction } from "./ec2_actions.ts";
import type { Ec2Sim } from "./ec2_sim.ts";
import {
  DROP,
  type HttpAnswer,
  type HttpRequest,
  HttpServer,
  type HttpServerOptions,
  sleep,
  STALL,
} from "./http_server.ts";
import { xmlDocument } from "./xml.ts";

export const EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";
export const EC2_VERSION = "2016-11-15";

/**
 * `throttle`: RequestLimitExceeded (503); `internalError`: InternalError (500); `drop`: the
 * connection breaks off mid-answer (a network error); `stall`: the answer's head and first
 * bytes arrive, then nothing (a body that stalls). A faulted call is not carried out.
 */
export type Ec2FaultKind = "throttle" | "internalError" | "drop" | "stall";

export interface Ec2FaultOptions {
  /** Only calls of this action (default: every action). */
  readonly action?: string;
  /** How many calls (default 1). */
  readonly count?: number;
  /** Only calls signed with this access key (one router's; default: any caller). */
  readonly accessKeyId?: string;
}

export interface Ec2LatencyOptions {
  readonly action?: string;
  /** How many calls (default: until `clearFaults()`). */
  readonly count?: number;
}

export interface Ec2Call {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  /** Wall clock when the call arrived, milliseconds since the epoch. */
  readonly time: number;
  readonly durationMs: number;
  /** 0 when the connection was dropped. */
  readonly status: number;
  readonly errorCode?: string;
  /** From the SigV4 `Credential=` of the `Authorization` header. */
  readonly accessKeyId?: string;
}

const xmlHeaders = (requestId: string) => ({
  "content-type": "text/xml;charset=UTF-8",
  "server": "AmazonEC2",
  "x-amzn-requestid": requestId,
});

interface Fault {
  readonly kind: Ec2FaultKind | "latency";
  readonly action: string | undefined;
  readonly accessKeyId?: string | undefined;
  remaining: number;
  readonly ms: number;
}

export class Ec2Server {
  readonly sim: Ec2Sim;
  /** Calls signed with these access keys fail `AuthFailure` (401). */
  readonly revokedAccessKeys: Set<string> = new Set();
  readonly #calls: Ec2Call[] = [];
  #faults: Fault[] = [];
  readonly #http: HttpServer;

  /** Listens on `options.hostname` (default 127.0.0.1) at `options.port` (default: any free). */
  constructor(sim: Ec2Sim, options: HttpServerOptions = {}) {
    this.sim = sim;
    this.#http = new HttpServer((request, signal) => this.#handle(request, signal), options);
  }

  /** `http://HOSTNAME:PORT`, for the SDK's `endpoint` or `AWS_ENDPOINT_URL_EC2`. */
  get endpoint(): string {
    return this.#http.url;
  }

  get calls(): readonly Ec2Call[] {
    return this.#calls;
  }

  /** Calls so far, of one action or of all. */
  callCount(action?: string): number {
    return this.#calls.filter((c) => action === undefined || c.action === action).length;
  }

  clearCalls(): void {
    this.#calls.length = 0;
  }

  inject(kind: Ec2FaultKind, options: Ec2FaultOptions = {}): void {
    this.#faults.push({
      kind,
      action: options.action,
      accessKeyId: options.accessKeyId,
      remaining: options.count ?? 1,
      ms: 0,
    });
  }

  /** Answer after `ms` more. */
  delay(ms: number, options: Ec2LatencyOptions = {}): void {
    const remaining = options.count ?? Infinity;
    this.#faults.push({ kind: "latency", action: options.action, remaining, ms });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Refuse connections (the listener closes) until `up()`. */
  down(): Promise<void> {
    return this.#http.stop();
  }

  up(): void {
    this.#http.listen();
  }

  get isUp(): boolean {
    return this.#http.listening;
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  #takeFault(action: string, latency: boolean, accessKeyId?: string): Fault | undefined {
    const fault = this.#faults.find((f) =>
      (f.kind === "latency") === latency && f.remaining > 0 &&
      (f.action === undefined || f.action === action) &&
      (f.accessKeyId === undefined || f.accessKeyId === accessKeyId)
    );
    if (fault) fault.remaining--;
    this.#faults = this.#faults.filter((f) => f.remaining > 0);
    return fault;
  }

  async #handle(request: HttpRequest, signal: AbortSignal): Promise<HttpAnswer> {
    const time = Date.now();
    const params: Params = Object.fromEntries([
      ...new URL(request.target, "http://sim").searchParams,
      ...new URLSearchParams(request.body),
    ]);
    const action = params.Action ?? "";
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(request.headers.get("authorization") ?? "")
      ?.[1];
    const fault = this.#takeFault(action, false, accessKeyId);
    const latency = this.#takeFault(action, true);
    if (latency) await sleep(latency.ms, signal);
    const log = (status: number, errorCode?: string) =>
      this.#calls.push({
        action,
        params,
        time,
        durationMs: Date.now() - time,
        status,
        ...(errorCode !== undefined ? { errorCode } : {}),
        ...(accessKeyId !== undefined ? { accessKeyId } : {}),
      });
    if (fault?.kind === "drop") {
      log(0, "ConnectionDropped");
      return DROP;
    }
    if (fault?.kind === "stall") {
      log(0, "BodyStalled");
      return STALL;
    }
    const requestId = crypto.randomUUID();
    try {
      const body = this.#answer(request, action, params, accessKeyId, fault);
      log(200);
      return {
        status: 200,
        headers: xmlHeaders(requestId),
        body: xmlDocument(`${action}Response`, { requestId, ...body }, EC2_NAMESPACE),
      };
    } catch (error) {
      const { code, message, status } = error instanceof Ec2Error
        ? error
        : new Ec2Error("InternalError", `Simulator bug: ${error}`, 500);
      log(status, code);
      const errors = { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId };
      return { status, headers: xmlHeaders(requestId), body: xmlDocument("Response", errors) };
    }
  }

  #answer(
    request: HttpRequest,
    action: string,
    params: Params,
    accessKeyId: string | undefined,
    fault: Fault | undefined,
  ) {
    if (request.method !== "POST" && request.method !== "GET") {
      throw new Ec2Error("InvalidAction", `The method ${request.method} is not supported.`, 405);
    }
    if (accessKeyId === undefined || this.revokedAccessKeys.has(accessKeyId)) {
      throw new Ec2Error(
        "AuthFailure",
        "AWS was not able to validate the provided access credentials",
        401,
      );
    }
    if (fault?.kind === "throttle") {
      throw new Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503);
    }
    if (fault?.kind === "internalError") {
      throw new Ec2Error("InternalError", "An internal error has occurred", 500);
    }
    if (action === "") {
      throw new Ec2Error("MissingAction", "The request must contain the parameter Action");
    }
    if (Object.hasOwn(ACTIONS, action) && params.Version !== EC2_VERSION) {
      throw new Ec2Error(
        "NoSuchVersion",
        `The requested version (${params.Version ?? ""}) of service AmazonEC2 does not exist`,
      );
    }
    return runAction(this.sim, action, params);
  }
}
