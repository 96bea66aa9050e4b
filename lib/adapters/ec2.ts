/**
 * @module The EC2 adapter: the only importer of `@aws-sdk/client-ec2`. It exposes the
 * handful of calls the router makes, in the project's vocabulary (`NatInstance`,
 * `RouteTable`), and maps SDK errors to `Ec2Error` with EC2's error code. SDK shapes never
 * leave this file. Odd records (no id, unparsable launch time) are skipped, not thrown.
 */
import {
  CreateRouteCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeNatGatewaysCommand,
  type DescribeNatGatewaysCommandOutput,
  DescribeRouteTablesCommand,
  type DescribeRouteTablesCommandOutput,
  EC2Client,
  type Instance,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RebootInstancesCommand,
  ReplaceRouteCommand,
  type Route,
  type RouteTable as SdkRouteTable,
  type Tag,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import type { CredentialProvider } from "./metadata.ts";
import { explainNetError } from "./net_errors.ts";
import {
  DEFAULT_ROUTE,
  type DefaultRoute,
  type NatGateway,
  type NatInstance,
  type NetworkInterface,
  type RouteTable,
  type Skipped,
  type SourceDestCheckChange,
  TAG_CLUSTER_ID,
  TAG_DRAINING,
  TAG_ZONE,
} from "../model.ts";
import { parseDrainingTag } from "../core/drain.ts";

/** What a Describe returned: the usable records, and those skipped with a reason. */
export interface Discovered<T> {
  readonly items: readonly T[];
  readonly skipped: readonly Skipped[];
  /** Describe calls made (pages). */
  readonly calls: number;
}

export interface ClusterQuery {
  readonly vpcId: string;
  readonly clusterId: string;
}

/** One default route write: to an instance's interface, or to a NAT gateway. */
export interface RouteWrite {
  readonly routeTableId: string;
  readonly destinationCidrBlock: string;
  readonly networkInterfaceId: string | undefined;
  readonly natGatewayId?: string;
}

/** The port the runtime depends on. */
export interface Ec2 {
  describeInstances(query: ClusterQuery): Promise<Discovered<NatInstance>>;
  describeRouteTables(query: ClusterQuery): Promise<Discovered<RouteTable>>;
  /**
   * Which of `subnetIds` have a route table of their own in the VPC (any table, tagged or
   * not); the others follow the VPC's main route table.
   */
  explicitlyAssociated(vpcId: string, subnetIds: readonly string[]): Promise<Set<string>>;
  createRoute(write: RouteWrite): Promise<void>;
  replaceRoute(write: RouteWrite): Promise<void>;
  disableSourceDestCheck(change: SourceDestCheckChange): Promise<void>;
  rebootInstance(instanceId: string): Promise<void>;
  terminateInstance(instanceId: string): Promise<void>;
}

/** Draining (issue 13): the mark on the node's own instance, a port of its own. */
export interface DrainingMark {
  /** Sets the `aws-nat-router/draining` tag to `value` (CreateTags). */
  markDraining(instanceId: string, value: string): Promise<void>;
  /** Removes the `aws-nat-router/draining` tag, whatever its value (DeleteTags). */
  clearDraining(instanceId: string): Promise<void>;
}

/** The read `--fallback-nat-gateway` needs: a port of its own, used at start and on discovery. */
export interface NatGatewayReader {
  /**
   * The NAT gateways with these ids that EC2 knows (any state, any VPC); an id EC2 does not
   * know is simply absent. Filtered by `nat-gateway-id`, so a missing id is not an error.
   */
  describeNatGateways(natGatewayIds: readonly string[]): Promise<NatGateway[]>;
}

/** An EC2 call that failed, with EC2's error code (`RequestLimitExceeded`, ...). */
export class Ec2Error extends Error {
  override readonly name = "Ec2Error";
  constructor(
    readonly action: string,
    readonly code: string,
    readonly detail: string,
    readonly httpStatus: number | undefined,
  ) {
    super(`${action} failed: ${code}: ${detail}`);
  }
  get throttled(): boolean {
    return this.code === "RequestLimitExceeded" || this.code === "Throttling" ||
      this.code === "ThrottlingException";
  }
  /**
   * Worth retrying: throttling, 5xx, or no answer at all. Under Deno the SDK does not retry
   * network errors itself (fetch errors carry no code it recognises).
   */
  get transient(): boolean {
    // No usable answer: also after a 200 head whose body broke off (the SDK then sets the
    // status it saw, 200, on the error).
    return this.throttled || (this.httpStatus !== undefined && this.httpStatus >= 500) ||
      ["NetworkError", "TypeError", "TimeoutError", "AbortError"].includes(this.code);
  }
}

/** Error codes that mean "this is not the route/target you think"; see apply.ts. */
export const ROUTE_ALREADY_EXISTS = "RouteAlreadyExists";
export const INVALID_PARAMETER_VALUE = "InvalidParameterValue";

/** ReplaceRoute's answer for a missing route (EC2 really says this, not InvalidRoute.NotFound). */
export function isMissingRouteError(error: unknown): boolean {
  return error instanceof Ec2Error &&
    (error.code === "InvalidRoute.NotFound" ||
      (error.code === INVALID_PARAMETER_VALUE && /no route defined/i.test(error.detail)));
}

const ZONE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const ID = {
  instance: /^i-[0-9a-f]{8,17}$/,
  routeTable: /^rtb-[0-9a-f]{8,17}$/,
  eni: /^eni-[0-9a-f]{8,17}$/,
};

function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((tag) => tag.Key === key)?.Value;
}

/** Resolves a zone tag: valid ⇒ it, absent ⇒ undefined, malformed ⇒ a skip note. */
function zoneTag(
  resourceId: string,
  tags: readonly Tag[] | undefined,
  notes: Skipped[],
): string | undefined {
  const value = tagValue(tags, TAG_ZONE);
  if (value === undefined) return undefined;
  const zone = value.trim();
  if (ZONE.test(zone)) return zone;
  notes.push({
    resourceId,
    reason: `ignored malformed ${TAG_ZONE} tag ${JSON.stringify(value.slice(0, 80))}`,
  });
  return undefined;
}

/** Converts one SDK instance; returns a skip reason instead when it is unusable. */
export function toNatInstance(raw: Instance, notes: Skipped[]): NatInstance | Skipped {
  const instanceId = raw.InstanceId ?? "";
  if (!ID.instance.test(instanceId)) {
    return { resourceId: instanceId || "(no id)", reason: "instance id missing or malformed" };
  }
  const launchTime = raw.LaunchTime?.getTime();
  if (launchTime === undefined || Number.isNaN(launchTime)) {
    return { resourceId: instanceId, reason: "instance has no launch time" };
  }
  const zone = zoneTag(instanceId, raw.Tags, notes) ?? raw.Placement?.AvailabilityZone;
  if (zone === undefined || !ZONE.test(zone)) {
    return { resourceId: instanceId, reason: "instance has no availability zone" };
  }
  const networkInterfaces: NetworkInterface[] = (raw.NetworkInterfaces ?? [])
    .flatMap((eni) =>
      eni.NetworkInterfaceId && ID.eni.test(eni.NetworkInterfaceId)
        ? [{
          networkInterfaceId: eni.NetworkInterfaceId,
          deviceIndex: eni.Attachment?.DeviceIndex ?? -1,
          sourceDestCheck: eni.SourceDestCheck !== false,
        }]
        : []
    )
    .sort((a, b) =>
      a.deviceIndex - b.deviceIndex || a.networkInterfaceId.localeCompare(b.networkInterfaceId)
    );
  return {
    instanceId,
    zone,
    launchTime,
    privateIp: raw.PrivateIpAddress || undefined,
    publicIp: raw.PublicIpAddress || undefined,
    sourceDestCheck: raw.SourceDestCheck !== false,
    networkInterfaces,
    ...drainingMark(raw.Tags),
    subnetId: raw.SubnetId || undefined,
  };
}

/** The draining mark, when the tag holds a time (a malformed one is ignored: no drain). */
function drainingMark(tags: readonly Tag[] | undefined): { drainingSince?: number } {
  const since = parseDrainingTag(tagValue(tags, TAG_DRAINING));
  return since === undefined ? {} : { drainingSince: since };
}

function toDefaultRoute(route: Route): DefaultRoute {
  const other = route.VpcPeeringConnectionId ?? route.TransitGatewayId ??
    route.EgressOnlyInternetGatewayId ??
    route.LocalGatewayId ?? route.CarrierGatewayId ?? route.CoreNetworkArn;
  return {
    instanceId: route.InstanceId || undefined,
    networkInterfaceId: route.NetworkInterfaceId || undefined,
    natGatewayId: route.NatGatewayId || undefined,
    gatewayId: route.GatewayId || undefined,
    otherTarget: other || undefined,
    state: route.State ?? "active",
  };
}

/** The origin of a route a virtual private gateway propagated into the table. */
export const PROPAGATED_ORIGIN = "EnableVgwRoutePropagation";

/**
 * Converts one SDK route table; only its static IPv4 default route matters to the router. A
 * propagated default route (origin `EnableVgwRoutePropagation`) may sit next to it or alone:
 * the static route wins over it, CreateRoute adds the static one beside it, and ReplaceRoute
 * cannot change it — so it is not the router's route, and a table with only a propagated
 * default has no default route of ours.
 */
export function toRouteTable(raw: SdkRouteTable, notes: Skipped[]): RouteTable | Skipped {
  const routeTableId = raw.RouteTableId ?? "";
  if (!ID.routeTable.test(routeTableId)) {
    return { resourceId: routeTableId || "(no id)", reason: "route table id missing or malformed" };
  }
  const route = raw.Routes?.find((r) =>
    r.DestinationCidrBlock === DEFAULT_ROUTE && r.Origin !== PROPAGATED_ORIGIN
  );
  const associations = raw.Associations ?? [];
  return {
    routeTableId,
    zone: zoneTag(routeTableId, raw.Tags, notes),
    defaultRoute: route ? toDefaultRoute(route) : undefined,
    subnetIds: associations.flatMap((a) => a.SubnetId ? [a.SubnetId] : []),
    main: associations.some((a) => a.Main === true),
  };
}

function isSkipped<T extends object>(value: T | Skipped): value is Skipped {
  return "reason" in value && "resourceId" in value && !("zone" in value);
}

function convert<Raw, T extends object>(
  raws: readonly Raw[],
  toItem: (raw: Raw, notes: Skipped[]) => T | Skipped,
  calls: number,
): Discovered<T> {
  const items: T[] = [];
  const skipped: Skipped[] = [];
  for (const raw of raws) {
    const item = toItem(raw, skipped);
    if (isSkipped(item)) skipped.push(item);
    else items.push(item);
  }
  return { items, skipped, calls };
}

/**
 * `FetchHttpHandler` bounds only the wait for a response's head: a body that stalls after the
 * head would hold the call (and the reconcile behind it) for ever. This handler gives each
 * attempt one deadline for head and body together, reads the body whole within it, and hands
 * the SDK the bytes. A missed deadline is a `TimeoutError`, which the SDK retries.
 *
 * The deadline is a timer that settles the attempt itself; aborting the fetch only frees the
 * connection. It does not rely on an abort reaching a stalled body read (nor on a composite
 * `AbortSignal.any`, which the runtime may collect while the fetch still waits).
 */
class BoundedFetchHandler extends FetchHttpHandler {
  constructor(readonly timeoutMs: number) {
    super({ requestTimeout: timeoutMs });
  }

  override async handle(
    request: Parameters<FetchHttpHandler["handle"]>[0],
    options: Parameters<FetchHttpHandler["handle"]>[1] = {},
  ): ReturnType<FetchHttpHandler["handle"]> {
    const attempt = new AbortController();
    const given = options.abortSignal as AbortSignal | undefined;
    const forward = () => attempt.abort(given?.reason);
    given?.addEventListener("abort", forward, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const timeout = new Error(`Request did not complete within ${this.timeoutMs} ms`);
        timeout.name = "TimeoutError";
        reject(timeout);
        attempt.abort(timeout);
      }, this.timeoutMs);
    });
    const whole = this.#whole(request, { ...options, abortSignal: attempt.signal });
    whole.catch(() => {}); // settled after the deadline: nobody waits for it any more
    try {
      return await Promise.race([whole, expired]);
    } finally {
      clearTimeout(timer);
      given?.removeEventListener("abort", forward);
    }
  }

  /** One attempt, head and body: the body read whole. */
  async #whole(
    request: Parameters<FetchHttpHandler["handle"]>[0],
    options: Parameters<FetchHttpHandler["handle"]>[1],
  ): ReturnType<FetchHttpHandler["handle"]> {
    const { response } = await super.handle(request, options);
    if (response.body instanceof ReadableStream) {
      response.body = new Uint8Array(await new Response(response.body).arrayBuffer());
    }
    return { response };
  }
}

export interface Ec2ClientOptions {
  readonly region: string;
  readonly credentials: CredentialProvider;
  /** Per-request timeout in ms (connect + response). */
  readonly requestTimeoutMs: number;
  /** Overrides `AWS_ENDPOINT_URL_EC2`/`AWS_ENDPOINT_URL` (which the SDK reads itself). */
  readonly endpoint?: string;
  /** Called after every EC2 call, for metrics: action, outcome (`ok` or error code). */
  readonly onCall?: (action: string, outcome: string) => void;
}

/** Builds the real adapter around one long-lived SDK client (warm keep-alive connections). */
export function createEc2(
  options: Ec2ClientOptions,
): Ec2 & NatGatewayReader & DrainingMark & { destroy(): void } {
  const client = new EC2Client({
    region: options.region,
    credentials: options.credentials,
    requestHandler: new BoundedFetchHandler(options.requestTimeoutMs),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  // The SDK's logger middleware copies every response through the operation's schema (to
  // blank sensitive members) for a logger that discards it: a deep copy of each Describe
  // answer, every cycle. This adapter logs on its own terms; drop it.
  client.middlewareStack.remove("loggerMiddleware");
  // deno-lint-ignore no-explicit-any
  async function send<T>(action: string, command: any): Promise<T> {
    try {
      const output = await client.send(command) as T;
      options.onCall?.(action, "ok");
      return output;
    } catch (error) {
      const mapped = toEc2Error(action, error);
      options.onCall?.(action, mapped.code);
      throw mapped;
    }
  }
  const filters = ({ vpcId, clusterId }: ClusterQuery) => [
    { Name: "vpc-id", Values: [vpcId] },
    { Name: `tag:${TAG_CLUSTER_ID}`, Values: [clusterId] },
  ];

  return {
    async describeInstances(query) {
      const { items, calls } = await allPages(async (token) => {
        const page: DescribeInstancesCommandOutput = await send(
          "DescribeInstances",
          new DescribeInstancesCommand({
            Filters: [...filters(query), { Name: "instance-state-name", Values: ["running"] }],
            ...(token ? { NextToken: token } : {}),
          }),
        );
        return {
          items: (page.Reservations ?? []).flatMap((r) => r.Instances ?? []),
          nextToken: page.NextToken,
        };
      });
      return convert(items, toNatInstance, calls);
    },
    async describeRouteTables(query) {
      const { items, calls } = await allPages(async (token) => {
        const page: DescribeRouteTablesCommandOutput = await send(
          "DescribeRouteTables",
          new DescribeRouteTablesCommand({
            Filters: filters(query),
            ...(token ? { NextToken: token } : {}),
          }),
        );
        return { items: page.RouteTables ?? [], nextToken: page.NextToken };
      });
      return convert(items, toRouteTable, calls);
    },
    async explicitlyAssociated(vpcId, subnetIds) {
      if (subnetIds.length === 0) return new Set();
      const { items } = await allPages(async (token) => {
        const page: DescribeRouteTablesCommandOutput = await send(
          "DescribeRouteTables",
          new DescribeRouteTablesCommand({
            Filters: [
              { Name: "vpc-id", Values: [vpcId] },
              { Name: "association.subnet-id", Values: [...subnetIds] },
            ],
            ...(token ? { NextToken: token } : {}),
          }),
        );
        return { items: page.RouteTables ?? [], nextToken: page.NextToken };
      });
      const wanted = new Set(subnetIds);
      return new Set(
        items.flatMap((t) => t.Associations ?? []).flatMap((a) =>
          a.SubnetId && wanted.has(a.SubnetId) ? [a.SubnetId] : []
        ),
      );
    },
    async describeNatGateways(natGatewayIds) {
      if (natGatewayIds.length === 0) return [];
      const { items } = await allPages(async (token) => {
        const page: DescribeNatGatewaysCommandOutput = await send(
          "DescribeNatGateways",
          new DescribeNatGatewaysCommand({
            Filter: [{ Name: "nat-gateway-id", Values: [...natGatewayIds] }],
            ...(token ? { NextToken: token } : {}),
          }),
        );
        return { items: page.NatGateways ?? [], nextToken: page.NextToken };
      });
      return items.flatMap((g) =>
        g.NatGatewayId
          ? [{
            natGatewayId: g.NatGatewayId,
            vpcId: g.VpcId || undefined,
            state: g.State ?? "unknown",
            connectivityType: g.ConnectivityType ?? "public",
            subnetId: g.SubnetId || undefined,
          }]
          : []
      );
    },
    async createRoute(write) {
      await send("CreateRoute", new CreateRouteCommand(routeInput(write)));
    },
    async replaceRoute(write) {
      await send("ReplaceRoute", new ReplaceRouteCommand(routeInput(write)));
    },
    async disableSourceDestCheck({ instanceId, networkInterfaceId }) {
      if (networkInterfaceId === undefined) {
        await send(
          "ModifyInstanceAttribute",
          new ModifyInstanceAttributeCommand({
            InstanceId: instanceId,
            SourceDestCheck: { Value: false },
          }),
        );
      } else {
        await send(
          "ModifyNetworkInterfaceAttribute",
          new ModifyNetworkInterfaceAttributeCommand({
            NetworkInterfaceId: networkInterfaceId,
            SourceDestCheck: { Value: false },
          }),
        );
      }
    },
    async rebootInstance(instanceId) {
      await send("RebootInstances", new RebootInstancesCommand({ InstanceIds: [instanceId] }));
    },
    async terminateInstance(instanceId) {
      await send(
        "TerminateInstances",
        new TerminateInstancesCommand({ InstanceIds: [instanceId] }),
      );
    },
    // Draining (issue 13).
    async markDraining(instanceId, value) {
      await send(
        "CreateTags",
        new CreateTagsCommand({
          Resources: [instanceId],
          Tags: [{ Key: TAG_DRAINING, Value: value }],
        }),
      );
    },
    async clearDraining(instanceId) {
      await send(
        "DeleteTags",
        new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: TAG_DRAINING }] }),
      );
    },
    destroy: () => client.destroy(),
  };
}

/** Fetches every page, following `NextToken` until EC2 sends none (or an empty one). */
async function allPages<T>(
  fetchPage: (token: string | undefined) => Promise<{ items: T[]; nextToken?: string | undefined }>,
): Promise<{ items: T[]; calls: number }> {
  const items: T[] = [];
  let token: string | undefined;
  let calls = 0;
  do {
    const page = await fetchPage(token);
    calls++;
    items.push(...page.items);
    token = page.nextToken || undefined;
  } while (token);
  return { items, calls };
}

function routeInput(write: RouteWrite) {
  return {
    RouteTableId: write.routeTableId,
    DestinationCidrBlock: write.destinationCidrBlock,
    ...(write.natGatewayId !== undefined
      ? { NatGatewayId: write.natGatewayId }
      : { NetworkInterfaceId: write.networkInterfaceId }),
  };
}

/** Maps whatever the SDK threw to an `Ec2Error`; never includes credentials. */
export function toEc2Error(action: string, error: unknown): Ec2Error {
  if (error instanceof Ec2Error) return error;
  const e = error as {
    name?: string;
    message?: string;
    cause?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  // fetch fails with a bare TypeError ("fetch failed"); the reason is in its cause.
  const network = e instanceof TypeError || typeof e?.name !== "string" || e.name === "Error";
  const name = network ? "NetworkError" : e.name as string;
  const firstLine = (value: unknown) =>
    (value instanceof Error ? value.message : String(value)).split("\n")[0] ?? "";
  // Drop the URL fetch repeats ("error sending request for url (...): "): keep the reason.
  const cause = e?.cause === undefined
    ? ""
    : `: ${firstLine(e.cause).replace(/^error sending request for url \([^)]*\): /, "")}`;
  // A refusal by the permission set or by the endpoint's port, in plain words.
  const detail = explainNetError(error) ?? `${firstLine(error)}${cause}`;
  // Long enough for the credential chain, which names each link it tried.
  return new Ec2Error(action, name, detail.slice(0, 1000), status);
}
