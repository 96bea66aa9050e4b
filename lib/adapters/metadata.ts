/**
 * @module Instance metadata adapter, IMDSv2 only, through `fetch` (the SDK's own metadata
 * client uses `node:http`, which has hung under Deno). Gives the router its own identity
 * (instance id, zone, region) and the instance role's credentials. Every call has a
 * timeout and a few retries; the endpoint is injectable (`AWS_EC2_METADATA_SERVICE_ENDPOINT`).
 */
import { explainNetError } from "./net_errors.ts";

export const DEFAULT_METADATA_ENDPOINT = "http://169.254.169.254";
const TOKEN_TTL_SECONDS = 21600;

export interface Identity {
  readonly instanceId: string;
  readonly zone: string;
  readonly region: string;
}

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export type CredentialProvider = () => Promise<AwsCredentials>;

export interface Metadata {
  readonly endpoint: string;
  identity(): Promise<Identity>;
  region(): Promise<string>;
  roleCredentials(): Promise<AwsCredentials>;
}

/** The metadata service's planned-departure notices (issue 13). */
export interface NoticeSource {
  /**
   * The instance's `instance-life-cycle` (its purchasing option: `spot`, `on-demand`, ...), one
   * attempt; `undefined` where the service answers 404.
   */
  lifeCycle(): Promise<string | undefined>;
  /**
   * The notices `ask` names, one attempt each, concurrently: the spot `instance-action`
   * document and the Auto Scaling `target-lifecycle-state`; `undefined` where not asked or
   * where the service answers 404 (none scheduled, not in a group).
   */
  notices(ask: NoticeAsk): Promise<Notices>;
}

/** Which notices to read. */
export interface NoticeAsk {
  readonly spot: boolean;
  readonly autoScaling: boolean;
}

export interface Notices {
  readonly spotInstanceAction: string | undefined;
  readonly lifecycleState: string | undefined;
}

/** A metadata lookup that failed; the message names the endpoint and the cause. */
export class MetadataError extends Error {
  override readonly name = "MetadataError";
}

export interface MetadataOptions {
  /** Base URL, e.g. `http://169.254.169.254`. */
  readonly endpoint: string;
  readonly timeoutMs: number;
  /** Attempts per lookup (≥ 1); retries wait `retryDelayMs` × attempt. */
  readonly attempts: number;
  readonly retryDelayMs: number;
  /** `AWS_EC2_METADATA_DISABLED=true`: every lookup fails at once. */
  readonly disabled?: boolean;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** Reads the metadata settings from the standard SDK environment variables. */
export function metadataOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): MetadataOptions {
  return {
    endpoint: (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_METADATA_ENDPOINT).replace(
      /\/+$/,
      "",
    ),
    timeoutMs: 1000,
    attempts: 3,
    retryDelayMs: 200,
    disabled: /^(true|1)$/i.test(env.AWS_EC2_METADATA_DISABLED ?? ""),
  };
}

/** An error's first line, and its cause's (fetch fails with "fetch failed" and the reason). */
function describe(error: unknown): string {
  const plain = explainNetError(error);
  if (plain !== undefined) return plain;
  const firstLine = (value: unknown) =>
    (value instanceof Error ? value.message : String(value)).split("\n")[0] ?? "";
  // Drop the URL fetch repeats ("error sending request for url (...): "): keep the reason.
  const cause = error instanceof Error && error.cause !== undefined
    ? `: ${firstLine(error.cause).replace(/^error sending request for url \([^)]*\): /, "")}`
    : "";
  return `${firstLine(error)}${cause}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createMetadata(options: MetadataOptions): Metadata & NoticeSource {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let token: { value: string; expires: number } | undefined;

  async function request(path: string, init: RequestInit): Promise<Response> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    return await doFetch(`${options.endpoint}${path}`, { ...init, signal });
  }

  async function freshToken(): Promise<string> {
    if (token && token.expires > now()) return token.value;
    const response = await request("/latest/api/token", {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
    });
    const body = await response.text();
    if (!response.ok) throw new Error(`token request answered HTTP ${response.status}`);
    token = { value: body.trim(), expires: now() + (TOKEN_TTL_SECONDS - 60) * 1000 };
    return token.value;
  }

  async function getOnce(path: string): Promise<string> {
    const response = await request(path, {
      headers: { "X-aws-ec2-metadata-token": await freshToken() },
    });
    const body = await response.text();
    if (response.status === 401) token = undefined; // expired or revoked: fetch a new one
    if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
    return body;
  }

  /** One attempt; 404 is `undefined`. */
  async function optional(path: string): Promise<string | undefined> {
    if (options.disabled) return undefined;
    const response = await request(path, {
      headers: { "X-aws-ec2-metadata-token": await freshToken() },
    });
    const body = await response.text();
    if (response.status === 404) return undefined;
    if (response.status === 401) token = undefined;
    if (!response.ok) {
      throw new MetadataError(
        `Cannot read ${path}: the metadata service answered ${response.status}`,
      );
    }
    return body;
  }

  async function get(path: string): Promise<string> {
    if (options.disabled) {
      throw new MetadataError(
        `Cannot read ${path} from the instance metadata service: AWS_EC2_METADATA_DISABLED is set`,
      );
    }
    let cause = "";
    for (let attempt = 1; attempt <= options.attempts; attempt++) {
      try {
        return await getOnce(path);
      } catch (error) {
        cause = error instanceof Error && error.name === "TimeoutError"
          ? `no answer within ${options.timeoutMs}ms`
          : describe(error);
        if (attempt < options.attempts) await sleep(options.retryDelayMs * attempt);
      }
    }
    throw new MetadataError(
      `Cannot read ${path} from the instance metadata service at ${options.endpoint}: ${cause}`,
    );
  }

  return {
    endpoint: options.endpoint,
    async identity() {
      const [instanceId, zone, region] = await Promise.all([
        get("/latest/meta-data/instance-id"),
        get("/latest/meta-data/placement/availability-zone"),
        get("/latest/meta-data/placement/region"),
      ]);
      return { instanceId: instanceId.trim(), zone: zone.trim(), region: region.trim() };
    },
    async region() {
      return (await get("/latest/meta-data/placement/region")).trim();
    },
    async lifeCycle() {
      return (await optional("/latest/meta-data/instance-life-cycle"))?.trim();
    },
    async notices(ask) {
      const [spotInstanceAction, lifecycleState] = await Promise.all([
        ask.spot ? optional("/latest/meta-data/spot/instance-action") : undefined,
        ask.autoScaling
          ? optional("/latest/meta-data/autoscaling/target-lifecycle-state")
          : undefined,
      ]);
      return { spotInstanceAction, lifecycleState };
    },
    async roleCredentials() {
      const roles = await get("/latest/meta-data/iam/security-credentials/");
      const role = roles.split("\n").map((line) => line.trim()).find((line) => line !== "");
      if (!role) {
        throw new MetadataError("The instance has no IAM role: attach an instance profile");
      }
      const document = JSON.parse(
        await get(`/latest/meta-data/iam/security-credentials/${encodeURIComponent(role)}`),
      ) as Record<string, string | undefined>;
      if (!document.AccessKeyId || !document.SecretAccessKey) {
        throw new MetadataError(
          `The instance role "${role}" returned no credentials: code ${document.Code ?? "unknown"}`,
        );
      }
      return {
        accessKeyId: document.AccessKeyId,
        secretAccessKey: document.SecretAccessKey,
        ...(document.Token ? { sessionToken: document.Token } : {}),
        ...(document.Expiration ? { expiration: new Date(document.Expiration) } : {}),
      };
    },
  };
}
