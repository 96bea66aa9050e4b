/**
 * @module Builders shared by the unit tests: a default route with every target unset
 * unless given, so a test names only what it is about.
 */
import type { DefaultRoute } from "../lib/model.ts";

/** A default route: active, no target, overridden by `fields`. */
export function route(fields: Partial<DefaultRoute> = {}): DefaultRoute {
  return {
    instanceId: undefined,
    networkInterfaceId: undefined,
    natGatewayId: undefined,
    gatewayId: undefined,
    otherTarget: undefined,
    state: "active",
    ...fields,
  };
}
