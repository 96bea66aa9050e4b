/**
 * @module The EC2 Query API of the simulator: decoded parameters in, the children of the
 * `<ActionResponse>` element out, or an `Ec2Error` carrying EC2's own error code, message and
 * HTTP status. Validation follows EC2's order: required and malformed parameters, then
 * unknown resources, then state; `DryRun=true` answers `DryRunOperation` (412) only when the
 * call would have succeeded.
 *
 * Pagination (DescribeInstances, DescribeRouteTables): tokens resume after the last item
 * returned, in creation order, so concurrent changes neither repeat nor skip items; like EC2,
 * a full page always carries a `nextToken`, even when the next page turns out to be empty.
 * Filter values accept EC2's `*` and `?` wildcards.
 */

import {
  ACCOUNT_ID,
  type Ec2Instance,
  type Ec2NatGateway,
  type Ec2RouteTable,
  type Ec2Sim,
  INSTANCE_STATE_CODES,
  type InstanceStateName,
  isPropagated,
  ROUTE_DESTINATIONS,
  ROUTE_TARGETS,
  type RouteTargetKey,
  type RouteWrite,
  type Tags,
} from "./ec2_sim.ts";
import type { XmlObject, XmlValue } from "./xml.ts";

export type Params = Readonly<Record<string, string>>;

export class Ec2Error extends Error {
  constructor(readonly code: string, message: string, readonly status: number = 400) {
    super(message);
    this.name = code;
  }
}

type Action = (sim: Ec2Sim, params: Params) => XmlObject;

export const ACTIONS: Readonly<Record<string, Action>> = {
  DescribeInstances: describeInstances,
  DescribeRouteTables: describeRouteTables,
  DescribeNatGateways: describeNatGateways,
  CreateRoute: (sim, params) => writeRoute(sim, params, "CreateRoute"),
  ReplaceRoute: (sim, params) => writeRoute(sim, params, "ReplaceRoute"),
  ModifyInstanceAttribute: modifyInstanceAttribute,
  ModifyNetworkInterfaceAttribute: modifyNetworkInterfaceAttribute,
  RebootInstances: rebootInstances,
  TerminateInstances: terminateInstances,
  CreateTags: createTags,
  DeleteTags: deleteTags,
};

/** Run one action; throws `Ec2Error`. */
export function runAction(sim: Ec2Sim, action: string, params: Params): XmlObject {
  const run = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
  if (!run) {
    throw new Ec2Error("InvalidAction", `The action ${action} is not valid for this web service.`);
  }
  return run(sim, params);
}

// Parameters.

function required(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value === "") {
    throw new Ec2Error("MissingParameter", `The request must contain the parameter ${name}`);
  }
  return value;
}

/** Values of a flattened list `Name.1`, `Name.2`, … in index order. */
function list(params: Params, name: string): string[] {
  const pattern = new RegExp(`^${name.replaceAll(".", "\\.")}\\.(\\d+)$`);
  return Object.entries(params)
    .flatMap(([key, value]) => {
      const index = pattern.exec(key)?.[1];
      return index === undefined ? [] : [[Number(index), value] as const];
    })
    .sort(([a], [b]) => a - b)
    .map(([, value]) => value);
}

function bool(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw invalidValue(value, name);
}

function invalidValue(value: string, name: string, why = ""): Ec2Error {
  return new Ec2Error(
    "InvalidParameterValue",
    `Value (${value}) for parameter ${name} is invalid.${why && ` ${why}`}`,
  );
}

function dryRun(params: Params): void {
  if (bool(params, "DryRun")) {
    throw new Ec2Error(
      "DryRunOperation",
      "Request would have succeeded, but DryRun flag is set.",
      412,
    );
  }
}

// Resources.

const ID_KINDS = {
  i: { code: "InvalidInstanceID", noun: "instance" },
  rtb: { code: "InvalidRouteTableID", noun: "routeTable" },
  eni: { code: "InvalidNetworkInterfaceID", noun: "networkInterface" },
} as const;

function checkId(id: string, prefix: keyof typeof ID_KINDS): void {
  if (!new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id)) {
    throw new Ec2Error(
      `${ID_KINDS[prefix].code}.Malformed`,
      `Invalid id: "${id}" (expecting "${prefix}-...")`,
    );
  }
}

function notFound(prefix: keyof typeof ID_KINDS, ids: readonly string[]): Ec2Error {
  const { code, noun } = ID_KINDS[prefix];
  const message = ids.length === 1
    ? `The ${noun} ID '${ids[0]}' does not exist`
    : `The ${noun} IDs '${ids.join(", ")}' do not exist`;
  return new Ec2Error(`${code}.NotFound`, message);
}

/** The instances, in request order; every id well formed and known. */
function instancesById(sim: Ec2Sim, ids: readonly string[]): Ec2Instance[] {
  for (const id of ids) checkId(id, "i");
  const missing = ids.filter((id) => !sim.instance(id));
  if (missing.length > 0) throw notFound("i", missing);
  return ids.map((id) => sim.instance(id)!);
}

function routeTableById(sim: Ec2Sim, id: string): Ec2RouteTable {
  checkId(id, "rtb");
  const table = sim.routeTable(id);
  if (!table) throw notFound("rtb", [id]);
  return table;
}

function multipleInterfaces(instance: Ec2Instance): Ec2Error {
  return new Ec2Error(
    "InvalidInstanceID",
    `There are multiple interfaces attached to instance '${instance.instanceId}'. ` +
      "Please specify an interface ID for the operation instead.",
  );
}

// Filters and pages.

type FilterValues<T> = Readonly<Record<string, (item: T) => readonly (string | undefined)[]>>;

const INSTANCE_FILTERS: FilterValues<Ec2Instance> = {
  "vpc-id": (i) => [i.state === "terminated" ? undefined : i.vpcId],
  "instance-id": (i) => [i.instanceId],
  "instance-state-name": (i) => [i.state],
  "availability-zone": (i) => [i.zone],
  "tag-key": (i) => Object.keys(i.tags),
};

const ROUTE_TABLE_FILTERS: FilterValues<Ec2RouteTable> = {
  "vpc-id": (t) => [t.vpcId],
  "route-table-id": (t) => [t.routeTableId],
  "association.main": (t) => t.associations.map((a) => String(a.main)),
  "association.subnet-id": (t) => t.associations.map((a) => a.subnetId),
  "tag-key": (t) => Object.keys(t.tags),
};

/** The filters DescribeNatGateways documents (and `tag:`, `tag-key`). */
const NAT_GATEWAY_FILTERS: FilterValues<Ec2NatGateway> = {
  "nat-gateway-id": (g) => [g.natGatewayId],
  state: (g) => [g.state],
  "subnet-id": (g) => [g.subnetId],
  "vpc-id": (g) => [g.vpcId],
  "tag-key": (g) => Object.keys(g.tags),
};

function wildcard(value: string): RegExp {
  const escaped = value.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replaceAll("*", ".*").replaceAll("?", ".")}$`, "s");
}

/** `Filter.N.Name` / `Filter.N.Value.M`: filters ANDed, values ORed, case-sensitive. */
function filterPredicate<T extends { tags: Tags }>(
  params: Params,
  table: FilterValues<T>,
): (item: T) => boolean {
  const numbers = Object.keys(params).flatMap((key) =>
    /^Filter\.(\d+)\.Name$/.exec(key)?.[1] ?? []
  );
  const checks = numbers.map((n) => {
    const name = params[`Filter.${n}.Name`] ?? "";
    const patterns = list(params, `Filter.${n}.Value`).map(wildcard);
    const values = name.startsWith("tag:")
      ? (item: T) => [item.tags[name.slice(4)]]
      : Object.hasOwn(table, name)
      ? table[name]
      : undefined;
    if (!values) throw new Ec2Error("InvalidParameterValue", `The filter '${name}' is invalid`);
    return (item: T) =>
      values(item).some((v) => v !== undefined && patterns.some((p) => p.test(v)));
  });
  return (item) => checks.every((check) => check(item));
}

/** One page of `items` in creation order, after `NextToken`, of at most `MaxResults`. */
function page<T>(
  sim: Ec2Sim,
  items: readonly T[],
  idOf: (item: T) => string,
  params: Params,
  limits: { readonly min: number; readonly max: number },
): { items: T[]; nextToken: string | undefined } {
  const max = params.MaxResults;
  const size = max === undefined ? Infinity : Number(max);
  if (max !== undefined && !(Number.isInteger(size) && size >= limits.min && size <= limits.max)) {
    const why = size > limits.max
      ? `Expecting a value less than ${limits.max}.`
      : `Expecting a value greater than ${limits.min}.`;
    throw new Ec2Error(
      "InvalidParameterValue",
      `Value ( ${max} ) for parameter maxResults is invalid. ${why}`,
    );
  }
  let after = -1;
  const token = params.NextToken;
  if (token !== undefined) {
    const match = /^sim1:(\d+)$/.exec(safeAtob(token));
    if (!match) throw invalidValue(token, "NextToken", "The token is invalid.");
    after = Number(match[1]);
  }
  const sorted = items
    .map((item) => ({ item, order: sim.order(idOf(item)) }))
    .filter(({ order }) => order > after)
    .sort((a, b) => a.order - b.order);
  const taken = sorted.slice(0, size);
  const last = taken.at(-1);
  return {
    items: taken.map(({ item }) => item),
    nextToken: taken.length === size && last ? btoa(`sim1:${last.order}`) : undefined,
  };
}

function safeAtob(token: string): string {
  try {
    return atob(token);
  } catch {
    return "";
  }
}

// Rendering.

const tagSet = (tags: Tags): XmlValue =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));
const stateOf = (name: InstanceStateName): XmlObject => ({
  code: INSTANCE_STATE_CODES[name],
  name,
});

function renderInstance(instance: Ec2Instance): XmlObject {
  const gone = instance.state === "terminated";
  const hasPublicIp = !gone && instance.state !== "stopped";
  const primary = instance.networkInterfaces.find((n) => n.deviceIndex === 0);
  const place = gone ? {} : { subnetId: instance.subnetId, vpcId: instance.vpcId };
  return {
    instanceId: instance.instanceId,
    imageId: instance.imageId,
    instanceState: stateOf(instance.state),
    privateIpAddress: gone ? undefined : instance.privateIp,
    ipAddress: hasPublicIp ? instance.publicIp : undefined,
    instanceType: instance.instanceType,
    launchTime: new Date(instance.launchTime),
    placement: { availabilityZone: instance.zone, tenancy: "default" },
    ...place,
    sourceDestCheck: gone ? undefined : primary?.sourceDestCheck,
    tagSet: tagSet(instance.tags),
    // EC2 promises no order: list the primary interface last to catch code that assumes it.
    networkInterfaceSet: gone ? [] : [...instance.networkInterfaces].reverse().map((n) => ({
      networkInterfaceId: n.networkInterfaceId,
      ...place,
      ownerId: ACCOUNT_ID,
      status: "in-use",
      privateIpAddress: n.privateIp,
      sourceDestCheck: n.sourceDestCheck,
      attachment: {
        attachmentId: n.attachmentId,
        deviceIndex: n.deviceIndex,
        status: "attached",
        deleteOnTermination: n.deviceIndex === 0,
      },
      association: n.deviceIndex === 0 && hasPublicIp && instance.publicIp !== undefined
        ? { publicIp: instance.publicIp, ipOwnerId: "amazon" }
        : undefined,
    })),
  };
}

function renderRouteTable(sim: Ec2Sim, table: Ec2RouteTable): XmlObject {
  return {
    routeTableId: table.routeTableId,
    vpcId: table.vpcId,
    ownerId: ACCOUNT_ID,
    routeSet: table.routes.map((route) => ({
      ...Object.fromEntries(ROUTE_DESTINATIONS.map((key) => [key, route[key]])),
      gatewayId: route.gatewayId,
      instanceId: route.instanceId,
      instanceOwnerId: route.instanceId === undefined ? undefined : ACCOUNT_ID,
      networkInterfaceId: route.networkInterfaceId,
      natGatewayId: route.natGatewayId,
      vpcPeeringConnectionId: route.vpcPeeringConnectionId,
      transitGatewayId: route.transitGatewayId,
      state: sim.routeState(route),
      origin: route.origin,
    })),
    associationSet: table.associations.map((a) => ({
      routeTableAssociationId: a.routeTableAssociationId,
      routeTableId: table.routeTableId,
      main: a.main,
      subnetId: a.subnetId,
      associationState: { state: "associated" },
    })),
    propagatingVgwSet: [
      ...new Set(table.routes.filter(isPropagated).flatMap((r) => r.gatewayId ?? [])),
    ].map((gatewayId) => ({ gatewayId })),
    tagSet: tagSet(table.tags),
  };
}

// Actions.

function describeInstances(sim: Ec2Sim, params: Params): XmlObject {
  const ids = list(params, "InstanceId");
  if (ids.length > 0 && params.MaxResults !== undefined) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      "The parameter instancesSet cannot be used with the parameter maxResults",
    );
  }
  const matches = filterPredicate(params, INSTANCE_FILTERS);
  const candidates = ids.length > 0 ? instancesById(sim, ids) : sim.instances();
  const { items, nextToken } = page(
    sim,
    candidates.filter(matches),
    (i) => i.instanceId,
    params,
    { min: 5, max: 1000 },
  );
  dryRun(params);
  return {
    reservationSet: items.map((instance) => ({
      reservationId: instance.reservationId,
      ownerId: ACCOUNT_ID,
      groupSet: [],
      instancesSet: [renderInstance(instance)],
    })),
    nextToken,
  };
}

function describeRouteTables(sim: Ec2Sim, params: Params): XmlObject {
  const ids = list(params, "RouteTableId");
  const matches = filterPredicate(params, ROUTE_TABLE_FILTERS);
  const candidates = ids.length > 0 ? ids.map((id) => routeTableById(sim, id)) : sim.routeTables();
  const { items, nextToken } = page(
    sim,
    candidates.filter(matches),
    (t) => t.routeTableId,
    params,
    { min: 5, max: 100 },
  );
  dryRun(params);
  return { routeTableSet: items.map((table) => renderRouteTable(sim, table)), nextToken };
}

/**
 * `NatGatewayId.N` that does not exist fails `NatGatewayNotFound` (the code the EC2 error
 * list gives); filters never fail on a missing id, they just match nothing.
 */
function describeNatGateways(sim: Ec2Sim, params: Params): XmlObject {
  const ids = list(params, "NatGatewayId");
  const missing = ids.filter((id) => sim.natGateway(id) === undefined);
  if (missing.length > 0) {
    throw new Ec2Error("NatGatewayNotFound", `NAT gateway ${missing[0]} was not found`);
  }
  const matches = filterPredicate(params, NAT_GATEWAY_FILTERS);
  const candidates = ids.length > 0 ? ids.map((id) => sim.natGateway(id)!) : sim.natGateways();
  const { items, nextToken } = page(
    sim,
    candidates.filter(matches),
    (g) => g.natGatewayId,
    params,
    { min: 5, max: 1000 },
  );
  dryRun(params);
  return {
    natGatewaySet: items.map((g) => ({
      createTime: new Date(g.createTime).toISOString(),
      natGatewayAddressSet: [],
      natGatewayId: g.natGatewayId,
      state: g.state,
      subnetId: g.subnetId,
      vpcId: g.vpcId,
      connectivityType: g.connectivityType,
      tagSet: tagSet(g.tags),
    })),
    nextToken,
  };
}

/** Query parameter name of each route field: `destinationCidrBlock` → `DestinationCidrBlock`. */
const capitalised = (key: string) => key[0]!.toUpperCase() + key.slice(1);

function writeRoute(sim: Ec2Sim, params: Params, action: RouteWrite["action"]): XmlObject {
  const table = routeTableById(sim, required(params, "RouteTableId"));
  const destinations = ROUTE_DESTINATIONS.filter((key) => params[capitalised(key)] !== undefined);
  const [destinationKey] = destinations;
  if (destinationKey === undefined) {
    throw new Ec2Error(
      "MissingParameter",
      "The request must contain the parameter destinationCidrBlock or destinationIpv6CidrBlock or destinationPrefixListId",
    );
  }
  if (destinations.length > 1) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      `The parameter ${destinations[0]} cannot be used with the parameter ${destinations[1]}`,
    );
  }
  const destination = params[capitalised(destinationKey)]!;
  if (destinationKey === "destinationCidrBlock" && !isIpv4Cidr(destination)) {
    throw invalidValue(destination, "destinationCidrBlock", "This is not a valid CIDR block.");
  }
  const targets = ROUTE_TARGETS.filter((key) => params[capitalised(key)] !== undefined);
  const [targetKey] = targets;
  if (targetKey === undefined) {
    throw new Ec2Error(
      "MissingParameter",
      `The request must contain exactly one of ${ROUTE_TARGETS.join(", ")}`,
    );
  }
  if (targets.length > 1) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      `The parameter ${targets[0]} cannot be used with the parameter ${targets[1]}`,
    );
  }
  const target = params[capitalised(targetKey)]!;
  checkTarget(sim, table, targetKey, target);
  // Only the static route is the API's to create or replace: a propagated route to the same
  // destination neither blocks CreateRoute nor can be replaced (ansible/ansible#43415; the
  // static route then takes precedence, AWS VPC guide "How route priority works").
  const existing = table.routes.find((r) => r[destinationKey] === destination && !isPropagated(r));
  if (action === "CreateRoute" && existing) {
    throw new Ec2Error(
      "RouteAlreadyExists",
      `The route identified by ${destination} already exists.`,
    );
  }
  if (action === "ReplaceRoute" && !existing) {
    throw new Ec2Error(
      "InvalidParameterValue",
      `There is no route defined for '${destination}' in the route table. Use CreateRoute instead.`,
    );
  }
  if (existing?.origin === "CreateRouteTable") {
    throw new Ec2Error(
      "InvalidParameterValue",
      `The route identified by ${destination} is a local route and cannot be replaced.`,
    );
  }
  dryRun(params);
  sim.writeRoute(action, table.routeTableId, {
    [destinationKey]: destination,
    [targetKey]: target,
  });
  return { return: true };
}

const GATEWAY_PREFIXES: Readonly<Record<string, string>> = {
  gatewayId: "(igw|vgw)",
  natGatewayId: "nat",
  vpcPeeringConnectionId: "pcx",
  transitGatewayId: "tgw",
};

/** The target exists, is in the table's VPC and, for an instance, is running. */
function checkTarget(sim: Ec2Sim, table: Ec2RouteTable, key: RouteTargetKey, id: string): void {
  let instance: Ec2Instance;
  if (key === "instanceId") {
    [instance] = instancesById(sim, [id]) as [Ec2Instance];
    if (instance.networkInterfaces.length > 1) throw multipleInterfaces(instance);
  } else if (key === "networkInterfaceId") {
    checkId(id, "eni");
    const found = sim.networkInterface(id);
    if (!found) throw notFound("eni", [id]);
    instance = found.instance;
  } else {
    if (!new RegExp(`^${GATEWAY_PREFIXES[key]}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id)) {
      const noun = key.replace(/Id$/, "");
      throw new Ec2Error(
        `Invalid${capitalised(noun)}ID.NotFound`,
        `The ${noun} ID '${id}' does not exist`,
      );
    }
    return;
  }
  if (instance.vpcId !== table.vpcId) {
    const what = key === "instanceId" ? "instance" : "network interface";
    throw new Ec2Error(
      "InvalidParameterValue",
      `route table ${table.routeTableId} and ${what} ${id} belong to different networks`,
    );
  }
  if (instance.state !== "running") {
    throw new Ec2Error(
      "IncorrectInstanceState",
      `The instance '${instance.instanceId}' is not in a state from which a route can be created (${instance.state}).`,
    );
  }
}

function isIpv4Cidr(text: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  return match !== null && match.slice(1, 5).every((octet) => Number(octet) <= 255) &&
    Number(match[5]) <= 32;
}

function sourceDestCheckValue(params: Params): boolean {
  const value = bool(params, "SourceDestCheck.Value") ??
    (params.Attribute === "sourceDestCheck" ? bool(params, "Value") : undefined);
  if (value === undefined) {
    throw new Ec2Error(
      "MissingParameter",
      "The request must contain the parameter SourceDestCheck",
    );
  }
  return value;
}

function modifyInstanceAttribute(sim: Ec2Sim, params: Params): XmlObject {
  const [instance] = instancesById(sim, [required(params, "InstanceId")]) as [Ec2Instance];
  const value = sourceDestCheckValue(params);
  if (instance.networkInterfaces.length > 1) throw multipleInterfaces(instance);
  if (instance.state === "terminated") throw incorrectState(instance, "modified");
  dryRun(params);
  sim.setSourceDestCheck(instance.instanceId, value);
  return { return: true };
}

function modifyNetworkInterfaceAttribute(sim: Ec2Sim, params: Params): XmlObject {
  const id = required(params, "NetworkInterfaceId");
  checkId(id, "eni");
  if (!sim.networkInterface(id)) throw notFound("eni", [id]);
  const value = sourceDestCheckValue(params);
  dryRun(params);
  sim.setSourceDestCheck(id, value);
  return { return: true };
}

function incorrectState(instance: Ec2Instance, verb: string): Ec2Error {
  return new Ec2Error(
    "IncorrectInstanceState",
    `The instance '${instance.instanceId}' is not in a state from which it can be ${verb}.`,
  );
}

function instanceList(sim: Ec2Sim, params: Params): Ec2Instance[] {
  const ids = list(params, "InstanceId");
  if (ids.length === 0) required(params, "InstanceId");
  return instancesById(sim, ids);
}

function rebootInstances(sim: Ec2Sim, params: Params): XmlObject {
  const instances = instanceList(sim, params).filter((i) => i.state !== "terminated");
  const stuck = instances.find((i) => i.state !== "running");
  if (stuck) throw incorrectState(stuck, "rebooted");
  dryRun(params);
  for (const instance of instances) sim.rebootInstance(instance.instanceId);
  return { return: true };
}

function terminateInstances(sim: Ec2Sim, params: Params): XmlObject {
  const instances = instanceList(sim, params);
  dryRun(params);
  return {
    instancesSet: instances.map((instance) => {
      const previousState = instance.state;
      if (previousState !== "terminated") sim.terminateInstance(instance.instanceId);
      return {
        instanceId: instance.instanceId,
        currentState: stateOf(previousState === "terminated" ? "terminated" : "shutting-down"),
        previousState: stateOf(previousState),
      };
    }),
  };
}

// Tags (instances and route tables, the resources the simulator holds).

/** `ResourceId.N`: each well formed (`InvalidID` otherwise) and known. */
function taggedResources(sim: Ec2Sim, params: Params): string[] {
  const ids = list(params, "ResourceId");
  if (ids.length === 0) required(params, "ResourceId.1");
  for (const id of ids) {
    if (!/^(i|rtb)-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) {
      throw new Ec2Error("InvalidID", `The ID '${id}' is not valid`);
    }
  }
  const instances = ids.filter((id) => id.startsWith("i-"));
  const missingInstances = instances.filter((id) => !sim.instance(id));
  if (missingInstances.length > 0) throw notFound("i", missingInstances);
  for (const id of ids.filter((id) => id.startsWith("rtb-"))) routeTableById(sim, id);
  return ids;
}

/** `Tag.N.Key` / `Tag.N.Value`, in index order; `aws:` keys are EC2's own. */
function tagParams(params: Params): { key: string; value: string | undefined }[] {
  const numbers = Object.keys(params)
    .flatMap((key) => /^Tag\.(\d+)\.Key$/.exec(key)?.[1] ?? [])
    .map(Number)
    .sort((a, b) => a - b);
  return numbers.map((n) => {
    const key = params[`Tag.${n}.Key`] ?? "";
    if (/^aws:/i.test(key)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `Value ( ${key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`,
      );
    }
    return { key, value: params[`Tag.${n}.Value`] };
  });
}

function createTags(sim: Ec2Sim, params: Params): XmlObject {
  const ids = taggedResources(sim, params);
  const tags = tagParams(params);
  if (tags.length === 0) required(params, "Tag.1.Key");
  dryRun(params);
  for (const id of ids) {
    sim.setTags(id, Object.fromEntries(tags.map(({ key, value }) => [key, value ?? ""])));
  }
  return { return: true };
}

/**
 * A key alone deletes the tag whatever its value; a key with a value only when it matches (an
 * empty value: only an empty tag); no `Tag` at all deletes every tag not starting `aws:`.
 */
function deleteTags(sim: Ec2Sim, params: Params): XmlObject {
  const ids = taggedResources(sim, params);
  const tags = tagParams(params);
  dryRun(params);
  for (const id of ids) {
    const current = sim.instance(id)?.tags ?? sim.routeTable(id)?.tags ?? {};
    const doomed = tags.length === 0
      ? Object.keys(current).filter((key) => !/^aws:/i.test(key))
      : tags.filter(({ key, value }) => value === undefined || current[key] === value)
        .map(({ key }) => key);
    sim.deleteTags(id, doomed);
  }
  return { return: true };
}
