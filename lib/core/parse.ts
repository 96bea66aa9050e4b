/**
 * @module Value parsers: the text of one flag or environment variable → a value, or why not
 * (the detail after the colon of the message `config.ts` builds around it). Ids, whole
 * numbers and ports, Go-style durations, `host:port` addresses, fallback NAT gateways and
 * closed sets of names; plus the formatters that write durations and `host:port` back.
 * Pure.
 *
 * Durations differ from Go's `time.ParseDuration`, on purpose:
 * - negative durations are rejected (no setting of this program can be negative);
 * - results are whole milliseconds, rounded **up**, so a non-zero duration never becomes
 *   0 ms (`1ns` and `500us` are 1 ms; `1.5ms` is 2 ms) — timers have millisecond resolution;
 * - like Go, a bare `0` is zero and any other bare number is rejected (`5` could mean 5 ms or
 *   5 s; the error asks for a unit).
 */
import { TAG_CLUSTER_ID } from "../model.ts";

export interface HostPort {
  /** A host name, an IPv4 address, or an IPv6 address without brackets. */
  readonly hostname: string;
  readonly port: number;
}

/** NAT gateways to fall back to when no NAT instance of the cluster is healthy. */
export interface FallbackNatGateway {
  /** For route tables whose zone has no entry in `byZone` (and zone-less ones). */
  readonly default: string | undefined;
  /** Zone (placement or `aws-nat-router/zone` tag) → NAT gateway id. */
  readonly byZone: Readonly<Record<string, string>>;
}

/** Where `--serve-health` listens: a port, and an address when one was given. */
export interface ListenPort {
  /** `undefined`: the address set elsewhere (`AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS`). */
  readonly hostname: string | undefined;
  readonly port: number;
}

/**
 * `[ADDR:]PORT`: a port alone, or `ADDR:PORT`, `[IPV6]:PORT`, `:PORT` (every interface);
 * `example` is a port.
 */
export function parseListenPort(example: string): (text: string) => Outcome<ListenPort> {
  return (text) => {
    if (!text.includes(":")) {
      const port = parsePort(example)(text);
      return port.ok ? accept({ hostname: undefined, port: port.value }) : port;
    }
    const hostPort = parseHostPort(text, `0.0.0.0:${example}`, "0.0.0.0");
    return hostPort.ok ? accept(hostPort.value) : hostPort;
  };
}

/** `host:port`, with brackets around an IPv6 address: the one way addresses are written. */
export function formatHostPort({ hostname, port }: HostPort): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** A value as it may appear in a one-line message: quoted, escaped, and not too long. */
export function quote(text: string): string {
  const short = [...text].length > 64 ? `${[...text].slice(0, 60).join("")}...` : text;
  return JSON.stringify(short).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// ---------------------------------------------------------------------------------------
// Durations.

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const NS_PER_MS = 1_000_000n;
/** Go's limit: durations are int64 nanoseconds (about 292 years). */
const MAX_NS = (1n << 63n) - 1n;
const COMPONENT = /(\d*)(?:\.(\d*))?([^\d.]+)/y;

/**
 * Parses a Go-style duration into whole milliseconds (rounded up), or `undefined` when the
 * text is not a non-negative duration with units. `"0"` is accepted as zero.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text.startsWith("+") ? text.slice(1) : text;
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0n;
  while (rest !== "") {
    COMPONENT.lastIndex = 0;
    const match = COMPONENT.exec(rest);
    if (match === null) return undefined;
    const whole = match[1] ?? "";
    const fraction = match[2] ?? "";
    const unit = NS_PER_UNIT[match[3] ?? ""];
    if ((whole === "" && fraction === "") || unit === undefined) return undefined;
    total += BigInt(whole === "" ? "0" : whole) * unit;
    if (fraction !== "") {
      const scale = 10n ** BigInt(fraction.length);
      total += (BigInt(fraction) * unit + scale - 1n) / scale; // round up, never lose a ns
    }
    if (total > MAX_NS) return undefined;
    rest = rest.slice(match[0].length);
  }
  return Number((total + NS_PER_MS - 1n) / NS_PER_MS);
}

/**
 * Says why `text` is not a duration, as the detail of an error message (after the colon):
 * `a number needs a unit, e.g. "5s" or "5ms"`. Meant for texts `parseDuration` rejected.
 */
export function explainBadDuration(text: string): string {
  const example = "expected a duration such as 500ms or 5s";
  if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) {
    const number = text.replace(/^[+-]/, "");
    return `add a unit, e.g. "${number}s" or "${number}ms"`;
  }
  if (text.startsWith("-")) return `a duration cannot be negative; ${example}`;
  const number = String.raw`(?:\d+\.?\d*|\.\d+)`;
  const unit = new RegExp(String.raw`^\+?(?:${number}(?:ns|us|µs|μs|ms|s|m|h))*${number}([^\d.]+)`)
    .exec(text)?.[1];
  if (unit !== undefined && /^[\p{L}]+$/u.test(unit) && NS_PER_UNIT[unit] === undefined) {
    return `unknown unit "${unit}"; ${example} (units: ns, us, ms, s, m, h)`;
  }
  return example;
}

/**
 * Formats milliseconds as the shortest Go-style duration that parses back to the same
 * value: 500 → `500ms`, 5000 → `5s`, 1500 → `1.5s`, 90000 → `1m30s`, 0 → `0s`.
 * Fractions of a millisecond are rounded up, like `parseDuration`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const whole = Math.ceil(ms);
  if (whole === 0) return "0s";
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor((whole % 3_600_000) / 60_000);
  const millis = whole % 60_000;
  let text = "";
  if (hours > 0) text += `${hours}h`;
  if (minutes > 0) text += `${minutes}m`;
  if (millis > 0) {
    const seconds = Math.floor(millis / 1000);
    const fraction = String(millis % 1000).padStart(3, "0").replace(/0+$/, "");
    text += fraction === "" ? `${seconds}s` : `${seconds}.${fraction}s`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// Parsers.

/** A parsed value (maybe with a warning worth logging), or why the text is not one. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly warning?: string }
  | { readonly ok: false; readonly verb: "Cannot parse" | "Invalid"; readonly detail: string };

const accept = <T>(value: T): Outcome<T> => ({ ok: true, value });
const unparsable = (detail: string): Outcome<never> => ({
  ok: false,
  verb: "Cannot parse",
  detail,
});
const invalid = (detail: string): Outcome<never> => ({ ok: false, verb: "Invalid", detail });

const VPC_ID = /^vpc-[0-9a-f]{1,17}$/;
const REAL_VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const NAT_GATEWAY_ID = /^nat-[0-9a-f]{8}([0-9a-f]{9})?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** What EC2 allows in a tag value (`aws-nat-router/id`). */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/**
 * true/false, 1/0 or yes/no, in any case (a switch set in the environment or as
 * `--switch=VALUE`); also t/f, which Go's `strconv.ParseBool` (the original tool) accepted.
 */
export function parseSwitch(text: string): Outcome<boolean> {
  const lower = text.toLowerCase();
  if (["true", "1", "yes", "t"].includes(lower)) return accept(true);
  if (["false", "0", "no", "f"].includes(lower)) return accept(false);
  return unparsable("expected true or false (or 1/0, yes/no)");
}

/** `vpc-` and hex digits; an unusual length is accepted with a warning. */
export function parseVpcId(text: string): Outcome<string> {
  if (!VPC_ID.test(text)) {
    return unparsable("expected vpc- and 8 or 17 lowercase hex digits, e.g. vpc-0123abcd");
  }
  if (REAL_VPC_ID.test(text)) return accept(text);
  return {
    ok: true,
    value: text,
    warning: "real VPC ids are vpc- and 8 or 17 hex digits; check it if no route tables are found",
  };
}

/** The value of the cluster tag: what EC2 allows in a tag value, not empty. */
export function parseClusterId(text: string): Outcome<string> {
  const example = `pass the value of the ${TAG_CLUSTER_ID} tag, e.g. squid`;
  if (text.trim() === "") return invalid(`the cluster id cannot be empty; ${example}`);
  if (text.trim() !== text) return invalid("remove the leading and trailing spaces");
  if ([...text].length > 256) {
    return invalid("shorten it to at most 256 characters (the limit of a tag value)");
  }
  if (!TAG_VALUE.test(text)) {
    return invalid(
      "use only letters, digits, spaces and _ . : / = + - @ (what a tag value allows)",
    );
  }
  return accept(text);
}

/** An AWS region name such as `us-east-1`. */
export function parseRegion(text: string): Outcome<string | undefined> {
  return REGION.test(text)
    ? accept(text)
    : unparsable("expected a region such as us-east-1 or eu-west-1");
}

/** A whole number from `min` to `max`. */
export function parseInteger(
  text: string,
  min: number,
  max: number,
  example: string,
): Outcome<number> {
  const range = `expected a whole number from ${min} to ${max}, e.g. ${example}`;
  if (!/^\d+$/.test(text)) return unparsable(range);
  const value = Number(text);
  return value >= min && value <= max ? accept(value) : invalid(range);
}

/** A TCP port, 1 to 65535; `example` is shown in the message when the text is not one. */
export function parsePort(example: string): (text: string) => Outcome<number> {
  return (text) => parseInteger(text, 1, 65535, example);
}

/** A Go-style duration (`parseDuration`) from `min` to `max` milliseconds. */
export function parseDurationIn(
  text: string,
  min: number,
  max: number,
  example: string,
): Outcome<number> {
  const ms = parseDuration(text);
  if (ms === undefined) return unparsable(explainBadDuration(text));
  if (ms >= min && ms <= max) return accept(ms);
  const range = min === 0
    ? `up to ${formatDuration(max)}`
    : `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return invalid(`expected a duration ${range}, e.g. ${example}`);
}

function isHostname(host: string): boolean {
  if (/^[\d.]+$/.test(host)) {
    const parts = host.split(".");
    return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && +part <= 255);
  }
  const label = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
  return host.length <= 253 && new RegExp(`^${label}(\\.${label})*\\.?$`, "i").test(host);
}

/** `HOST:PORT`, `[IPV6]:PORT`, or (with `anyHost`) `:PORT` for every interface. */
export function parseHostPort(
  text: string,
  example: string,
  anyHost: string | undefined,
): Outcome<HostPort> {
  const expected = `expected HOST:PORT, e.g. ${example} or [::1]:${example.split(":").pop()}`;
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed) {
    host = bracketed[1] ?? "";
    portText = bracketed[2] ?? "";
    if (!/^[0-9a-f:.]+(%[\w.-]+)?$/i.test(host) || !host.includes(":")) {
      return unparsable(`${quote(host)} is not an IPv6 address; ${expected}`);
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return unparsable(expected);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) {
      return unparsable("put an IPv6 address in brackets, e.g. [::1]:9100");
    }
    if (host === "" && anyHost !== undefined) host = anyHost;
    else if (!isHostname(host)) return unparsable(expected);
  }
  const port = parseInteger(portText, 1, 65535, example.split(":").pop() ?? "");
  if (!port.ok && port.verb === "Invalid") {
    return invalid(`the port must be from 1 to 65535, e.g. ${example}`);
  }
  if (!port.ok) return unparsable(expected);
  return accept({ hostname: host, port: port.value });
}

/** `nat-ID`, or `ZONE=nat-ID` pairs separated by commas, plus at most one bare default. */
export function parseFallbackNatGateway(text: string): Outcome<FallbackNatGateway | undefined> {
  const expected =
    "expected nat-ID, or ZONE=nat-ID pairs separated by commas (plus at most one bare " +
    "nat-ID as the default), e.g. us-east-1a=nat-0123abcd,us-east-1b=nat-0456cdef";
  const notAnId = (id: string) =>
    unparsable(`${quote(id)} is not a NAT gateway id; expected nat- and 8 or 17 hex digits`);
  let fallback: string | undefined;
  const byZone: [string, string][] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") return unparsable(`empty entry; ${expected}`);
    const equals = entry.indexOf("=");
    if (equals < 0) {
      if (!NAT_GATEWAY_ID.test(entry)) return notAnId(entry);
      if (fallback !== undefined) {
        return invalid(
          `two default NAT gateways (${quote(fallback)} and ${quote(entry)}); ` +
            "give at most one bare nat-ID",
        );
      }
      fallback = entry;
      continue;
    }
    const zone = entry.slice(0, equals).trim();
    const id = entry.slice(equals + 1).trim();
    if (zone === "") return unparsable(`${quote(entry)} has no zone before "="; ${expected}`);
    if (!TAG_VALUE.test(zone) || zone.includes("=")) {
      return unparsable(`${quote(zone)} is not a zone; ${expected}`);
    }
    if (!NAT_GATEWAY_ID.test(id)) return notAnId(id);
    if (byZone.some(([known]) => known === zone)) {
      return invalid(`zone ${quote(zone)} appears twice; give one NAT gateway per zone`);
    }
    byZone.push([zone, id]);
  }
  return accept({ default: fallback, byZone: Object.freeze(Object.fromEntries(byZone)) });
}

/** A closed set of lower-case names, read in any case, plus aliases. */
export function parseChoice<T extends string>(
  names: Readonly<Record<T, true>>,
  aliases: Readonly<Record<string, T>> = {},
): (text: string) => Outcome<T> {
  const list = Object.keys(names) as T[];
  const expected = `expected ${list.slice(0, -1).join(", ")} or ${list.at(-1)}`;
  return (text: string): Outcome<T> => {
    const lower = text.toLowerCase();
    const value = list.find((name) => name === lower) ?? aliases[lower];
    return value === undefined ? unparsable(expected) : accept(value);
  };
}
