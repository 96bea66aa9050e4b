/**
 * @module A simulated instance metadata service (IMDSv2 only) for one instance, on
 * 127.0.0.1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1–21600)
 * returns a token; every GET needs a valid, unexpired `X-aws-ec2-metadata-token` (else 401).
 * Serves the instance id, zone, region, local IPv4, `instance-life-cycle` (its purchasing
 * option), the role name and its credentials, and the identity document, and the
 * planned-departure notices: `spot/instance-action` (on a spot instance only: 404 until a spot
 * interruption is scheduled, then JSON `{"action","time"}`) and
 * `autoscaling/target-lifecycle-state` (404 outside an Auto Scaling group, else the state).
 * Controls: down/up (connections refused), added latency, refusing tokens (403), replacing
 * the role credentials, the two notices, and a request log.
 */

import { type HttpRequest, type HttpResponse, HttpServer, sleep } from "./http_server.ts";
import { ACCOUNT_ID } from "./ec2_sim.ts";

export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly token: string;
  /** Milliseconds since the epoch. */
  readonly expiration: number;
}

export interface ImdsOptions {
  readonly instanceId: string;
  readonly zone: string;
  readonly region: string;
  readonly privateIp?: string;
  /** Instance role name; `null` for an instance without a role (default `aws-nat-router`). */
  readonly role?: string | null;
  readonly credentials?: RoleCredentials;
  readonly imageId?: string;
  readonly instanceType?: string;
  /** Clock for token expiry and credential timestamps (default `Date.now`). */
  readonly now?: () => number;
}

export interface ImdsRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

const HOUR = 3600_000;
const META_DATA_LISTING = [
  "ami-id",
  "iam/",
  "instance-id",
  "instance-life-cycle",
  "instance-type",
  "local-ipv4",
  "placement/",
]
  .join("\n");
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function randomText(alphabet: string, length: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(length)),
    (b) => alphabet[b % alphabet.length],
  ).join("");
}

/** Fresh credentials valid for `validForMs` (default 6 hours), with a new access key id. */
export function newRoleCredentials(now: number, validForMs = 6 * HOUR): RoleCredentials {
  const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return {
    accessKeyId: `ASIA${randomText(upper, 16)}`,
    secretAccessKey: randomText(upper + "abcdefghijklmnopqrstuvwxyz+/", 40),
    token: `IQoJb3JpZ2luX2VjE${randomText(upper + "abcdefghijklmnopqrstuvwxyz", 200)}`,
    expiration: now + validForMs,
  };
}

export class ImdsServer {
  /** Added latency for every answer, in milliseconds. */
  latencyMs = 0;
  /** When true, `PUT /latest/api/token` answers 403. */
  refuseTokens = false;
  /** The purchasing option, `instance-life-cycle`: `on-demand` or `spot`. */
  lifeCycle: "on-demand" | "spot" = "on-demand";
  /**
   * A scheduled spot interruption (`spot/instance-action`), or `undefined` (404). As on EC2,
   * only a spot instance shows it.
   */
  spotInstanceAction: { action: "terminate" | "stop" | "hibernate"; time: number } | undefined;
  /** The Auto Scaling target lifecycle state (`InService`, `Terminated`, ...), or 404. */
  lifecycleState: string | undefined;
  readonly requests: ImdsRequest[] = [];
  readonly #options: ImdsOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, number>();
  #credentials: RoleCredentials;
  #credentialsUpdated: number;
  readonly #http: HttpServer;

  constructor(options: ImdsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#credentialsUpdated = this.#now();
    this.#credentials = options.credentials ?? newRoleCredentials(this.#credentialsUpdated);
    this.#http = new HttpServer(async (request, signal) => {
      if (this.latencyMs > 0) await sleep(this.latencyMs, signal);
      const response = this.#answer(request);
      const path = request.target.split("?")[0] ?? "";
      this.requests.push({ method: request.method, path, status: response.status });
      return response;
    });
  }

  /** `http://127.0.0.1:PORT`, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`. */
  get endpoint(): string {
    return this.#http.url;
  }

  get requestCount(): number {
    return this.requests.length;
  }

  get credentials(): RoleCredentials {
    return this.#credentials;
  }

  /** Serve these credentials from now on (LastUpdated becomes now); returns them. */
  setCredentials(credentials: RoleCredentials): RoleCredentials {
    this.#credentials = credentials;
    this.#credentialsUpdated = this.#now();
    return credentials;
  }

  /** Replace the credentials with fresh ones (a new access key id); returns them. */
  rotateCredentials(validForMs?: number): RoleCredentials {
    return this.setCredentials(newRoleCredentials(this.#now(), validForMs));
  }

  /** Refuse connections until `up()`. */
  down(): Promise<void> {
    return this.#http.stop();
  }

  up(): void {
    this.#http.listen();
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  #answer(request: HttpRequest): HttpResponse {
    const path = request.target.split("?")[0] ?? "";
    if (path === "/latest/api/token") return this.#token(request);
    if (request.method !== "GET") return { status: 405 };
    const expiry = this.#tokens.get(request.headers.get("x-aws-ec2-metadata-token") ?? "");
    if (expiry === undefined || expiry <= this.#now()) return { status: 401 };
    const body = this.#document(path);
    if (body === undefined) return { status: 404, body: "Not Found" };
    return { status: 200, body };
  }

  #token(request: HttpRequest): HttpResponse {
    if (request.method !== "PUT") return { status: 405 };
    if (this.refuseTokens || request.headers.has("x-forwarded-for")) return { status: 403 };
    const ttl = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds") ?? "";
    const seconds = /^\d+$/.test(ttl) ? Number(ttl) : NaN;
    if (!(seconds >= 1 && seconds <= 21600)) return { status: 400 };
    const token = `sim-token-${crypto.randomUUID()}`;
    this.#tokens.set(token, this.#now() + seconds * 1000);
    return {
      status: 200,
      headers: { "x-aws-ec2-metadata-token-ttl-seconds": String(seconds) },
      body: token,
    };
  }

  #document(path: string): string | undefined {
    const o = this.#options;
    const role = o.role === undefined ? "aws-nat-router" : o.role;
    const meta: Readonly<Record<string, string | undefined>> = {
      "instance-id": o.instanceId,
      "ami-id": o.imageId ?? "ami-0123456789abcdef0",
      "instance-type": o.instanceType ?? "t4g.nano",
      "local-ipv4": o.privateIp,
      "placement/availability-zone": o.zone,
      "placement/region": o.region,
      "iam/security-credentials/": role ?? undefined,
      "instance-life-cycle": this.lifeCycle,
      "spot/instance-action": this.spotInstanceAction === undefined || this.lifeCycle !== "spot"
        ? undefined
        : JSON.stringify({
          action: this.spotInstanceAction.action,
          time: isoSeconds(this.spotInstanceAction.time),
        }),
      "autoscaling/target-lifecycle-state": this.lifecycleState,
    };
    if (path.startsWith("/latest/meta-data/")) {
      const key = path.slice("/latest/meta-data/".length);
      if (key === "") return META_DATA_LISTING;
      if (key === "placement/") return "availability-zone\nregion";
      if (role && key === `iam/security-credentials/${role}`) return this.#roleDocument();
      return meta[key === "iam/security-credentials" ? `${key}/` : key];
    }
    if (path === "/latest/dynamic/instance-identity/document") {
      return JSON.stringify(
        {
          accountId: ACCOUNT_ID,
          architecture: "arm64",
          availabilityZone: o.zone,
          billingProducts: null,
          devpayProductCodes: null,
          marketplaceProductCodes: null,
          imageId: meta["ami-id"],
          instanceId: o.instanceId,
          instanceType: meta["instance-type"],
          kernelId: null,
          pendingTime: isoSeconds(this.#now()),
          privateIp: o.privateIp ?? null,
          ramdiskId: null,
          region: o.region,
          version: "2017-09-30",
        },
        null,
        2,
      );
    }
    return undefined;
  }

  #roleDocument(): string {
    const c = this.#credentials;
    return JSON.stringify(
      {
        Code: "Success",
        LastUpdated: isoSeconds(this.#credentialsUpdated),
        Type: "AWS-HMAC",
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        Token: c.token,
        Expiration: isoSeconds(c.expiration),
      },
      null,
      2,
    );
  }
}
