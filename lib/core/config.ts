/**
 * @module Command line and environment → `Config`. One table, `FLAGS`, drives parsing,
 * the environment lookup, defaults and `--help`; `ENV_ONLY` lists the settings read
 * from the environment alone; `deriveTimings` computes the values that follow from the
 * flags. The value parsers are in `parse.ts`. Pure: the arguments and an environment
 * record are passed in; bad input comes back as a one-line message (what is wrong, then
 * what to do), never as an exception. Every environment variable the program reads by
 * name, besides the AWS SDK's, is declared here (`ENV_NAMES`).
 *
 * Rules, for operators:
 * - every flag `--some-flag` can also be set as `AWS_NAT_ROUTER_SOME_FLAG`; the log level
 *   also as `LOG_LEVEL` (the original systemd unit sets `LOG_LEVEL=INFO`), and the original
 *   tool's variables still work (`NAT_VPC_ID`, `NAT_CLUSTER_ID`, `NAT_INTERVAL`,
 *   `NAT_EC2_ELECTION`, `NAT_HC_PUBLIC`, `NAT_HC_PORT`, `NAT_HC_TIMEOUT`). Precedence:
 *   flag > `AWS_NAT_ROUTER_*` > the original's variable > default. Environment values are
 *   trimmed, and an empty one counts as unset;
 * - the original tool's command lines work: its short flags (`-l` log level, `-r` region,
 *   `-p` port), long flags with one dash (`-vpc-id`), and `--switch=true|false`; its
 *   `--aws-access-key`/`--aws-secret-key` are refused with where credentials go instead (the
 *   value is never repeated);
 * - switches (`--once`, `--dry-run`, ...) take no value on the command line, or `=VALUE`;
 *   there and in the environment they read true/false, 1/0, yes/no or t/f, in any case;
 * - `--timeout` alone may be as long as the default probe interval: the probe interval then
 *   follows it (twice the timeout, with a warning); both given and in conflict is an error;
 * - choices (log level, recovery mode, output format) are read in any case; the log level
 *   also accepts the logrus names of the original tool (`warning`, `trace`, `fatal`, `panic`);
 * - a flag given twice is an error, and so is any argument other than one subcommand
 *   (`status`, `drain`, `undrain`); `--help` and `--version` win over everything else before `--`;
 * - `--output` only applies to `status`: on the command line of the daemon it is an error,
 *   from the environment it is ignored (one environment file can serve both).
 */
import { parseArgs } from "node:util";
import {
  type FallbackNatGateway,
  formatDuration,
  type HostPort,
  type ListenPort,
  type Outcome,
  parseChoice,
  parseClusterId,
  parseDuration,
  parseDurationIn,
  parseFallbackNatGateway,
  parseHostPort,
  parseInteger,
  parseListenPort,
  parsePort,
  parseRegion,
  parseSwitch,
  parseVpcId,
  quote,
} from "./parse.ts";
import { leastProvingFailbackMs } from "./decide.ts";
import { ONCE_BASE_DEADLINE_MS } from "./startup.ts";
import { TAG_CLUSTER_ID } from "../model.ts";
import type { LogLevel, RecoveryMode } from "../model.ts";

export const PROGRAM = "aws-nat-router";
/**
 * The health-serving port the shipped permission set allows (`--serve-health 3127 --port
 * 3127`): next to squid's 3128, clear of what squid itself commonly listens on (3128 proxy,
 * 3129 intercept, 3130 ICP, 3401 SNMP, 4827 HTCP) and of the metrics port 9100.
 */
export const HEALTH_PORT = 3127;
/** Prefix of every flag's environment variable: `--vpc-id` is `AWS_NAT_ROUTER_VPC_ID`. */
export const ENV_PREFIX = "AWS_NAT_ROUTER_";

/**
 * What to run: the controller loop, a one-shot read-only report, or a planned departure of
 * this node (`drain` its route tables away and mark it draining; `undrain` to cancel).
 */
export type Command = "run" | "status" | "drain" | "undrain";
/** The subcommands, as typed first on the command line. */
const SUBCOMMANDS: readonly Command[] = ["status", "drain", "undrain"];
/** How `status` prints its report. */
export type OutputFormat = "table" | "json";

export interface Config {
  readonly command: Command;
  readonly vpcId: string;
  readonly clusterId: string;
  /** `undefined`: the caller falls back to `AWS_REGION`, then the metadata service. */
  readonly region: string | undefined;
  readonly ec2Election: boolean;
  /** Discovery / reconcile period. */
  readonly intervalMs: number;
  /** Health-check TCP connect timeout; always less than `probeIntervalMs`. */
  readonly timeoutMs: number;
  /** Health-check TCP port. */
  readonly port: number;
  /** Probe the public IP instead of the private one. */
  readonly public: boolean;
  readonly probeIntervalMs: number;
  /** Staggered TCP connects per health check; the check passes if any succeeds. */
  readonly probeAttempts: number;
  readonly fall: number;
  readonly rise: number;
  readonly failbackDelayMs: number;
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly recovery: RecoveryMode;
  readonly recoveryAfterMs: number;
  readonly fallbackNatGateway: FallbackNatGateway | undefined;
  readonly selfCheck: boolean;
  /** Only set together with `selfCheck`. */
  readonly egressCheck: HostPort | undefined;
  readonly serveHealth: number | undefined;
  readonly metricsListen: HostPort | undefined;
  /** How often the daemon logs `router.heartbeat`; 0: never. */
  readonly heartbeatMs: number;
  readonly logLevel: LogLevel;
  /** Always `"table"` for the `run` command. */
  readonly output: OutputFormat;

  // Set only in the environment (operations and tests), not listed in `--help`:
  /** The IPv4 forwarding switch the self-check reads: `AWS_NAT_ROUTER_IP_FORWARD_PATH`. */
  readonly ipForwardPath: string;
  /** Where `--serve-health` listens: `AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS`. */
  readonly serveHealthAddress: string;
  /**
   * When the instance booted, as an ISO time: `AWS_NAT_ROUTER_BOOTED_AT`; empty: from the
   * OS uptime. For test worlds whose "reboot" does not reboot the kernel.
   */
  readonly bootedAt: string;

  // Derived from the flags, once, here (see `deriveTimings`):
  /** Timeout of one EC2 request: `--interval`, kept within 2s to 10s. */
  readonly requestTimeoutMs: number;
  /**
   * How long the leader trusts its own writes over what EC2 reads back (EC2 is eventually
   * consistent): its recent route writes, and the source/dest check changes it will not
   * issue again. Two `--interval`s.
   */
  readonly writeTrustMs: number;
  /**
   * The first back-off on a route table another cluster node keeps moving to a NAT this node
   * cannot reach (a suspected split); it doubles with each further fight, up to
   * `MAX_SPLIT_BACKOFF_MS`. Eight `--failback-delay`s, at least 4 minutes, so that a
   * partition of two nodes moves each table at most three times in five minutes.
   */
  readonly splitBackoffMs: number;
  /**
   * How long a change the decision requires may stay unmade before the next node in line
   * makes it (the second in line waits twice that, ...): one EC2 request timeout plus one
   * probe interval, the time a live leader needs to see the same fault and write.
   */
  readonly successionMs: number;
}

/** The outcome of `parseConfig`: run with a config, print help or version, or fail. */
export type ParseResult =
  | {
    readonly ok: true;
    readonly action: "config";
    readonly config: Config;
    /** Accepted but suspicious input, one line each, worth logging at startup. */
    readonly warnings: readonly string[];
  }
  | { readonly ok: true; readonly action: "help" }
  | { readonly ok: true; readonly action: "version" }
  | { readonly ok: false; readonly error: string };

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];
type Env = Readonly<Record<string, string | undefined>>;

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// ---------------------------------------------------------------------------------------
// The flag table.

/** A flag: its name, help, default, and how to read its text. */
interface FlagSpec<T> {
  /** Without the dashes; the environment variable is derived from it. */
  readonly flag: string;
  /** Value placeholder in `--help`; `undefined` for a switch (a boolean without value). */
  readonly placeholder: string | undefined;
  readonly description: string;
  /** The default, and how `--help` shows it; or, for a required flag, the fix to show. */
  readonly initial: { readonly value: T; readonly shown: string } | { readonly missing: string };
  readonly parse: (text: string) => Outcome<T>;
  /** A value to show in hints, when the default is not one (`none`, `off`, required). */
  readonly example?: string;
  /** Extra environment variables, read after `AWS_NAT_ROUTER_*`. */
  readonly alsoEnv?: readonly string[];
  /** The original tool's one-letter form (`-p` for `--port`). */
  readonly short?: string;
  /** The only command the flag applies to. */
  readonly onlyFor?: Command;
}

/** The fields of `Config` set by an environment variable only, with no flag. */
type EnvOnlyKey = "ipForwardPath" | "serveHealthAddress" | "bootedAt";
/** The fields of `Config` computed from the others (`deriveTimings`). */
type DerivedKey = "requestTimeoutMs" | "writeTrustMs" | "splitBackoffMs" | "successionMs";
/** What the flags set. */
type Settings = Omit<Config, "command" | EnvOnlyKey | DerivedKey | "serveHealth"> & {
  /** `--serve-health [ADDR:]PORT`: the port goes to `serveHealth`, an address wins over the env's. */
  readonly serveHealth: ListenPort | undefined;
};

function toggle(flag: string, description: string): FlagSpec<boolean> {
  return {
    flag,
    placeholder: undefined,
    description,
    initial: { value: false, shown: "false" },
    parse: parseSwitch,
  };
}

function duration(
  flag: string,
  description: string,
  initial: number,
  [min, max]: readonly [number, number],
): FlagSpec<number> {
  const example = formatDuration(initial === 0 ? 30_000 : initial);
  const limits = min === 0
    ? `at most ${formatDuration(max)}`
    : `${formatDuration(min)} to ${formatDuration(max)}`;
  return {
    flag,
    placeholder: "DURATION",
    description: `${description} (${limits})`,
    initial: { value: initial, shown: formatDuration(initial) },
    parse: (text) => parseDurationIn(text, min, max, example),
  };
}

const LOG_LEVEL_NAMES = {
  debug: true,
  info: true,
  warn: true,
  error: true,
} as const satisfies Record<LogLevel, true>;
const RECOVERY_MODES = { off: true, reboot: true, terminate: true } as const satisfies Record<
  RecoveryMode,
  true
>;
const OUTPUT_FORMATS = { table: true, json: true } as const satisfies Record<OutputFormat, true>;

/** Every flag, in `--help` order. The single source of names, defaults and parsing. */
const FLAGS: { readonly [K in keyof Settings]: FlagSpec<Settings[K]> } = {
  vpcId: {
    flag: "vpc-id",
    example: "vpc-0123abcd",
    placeholder: "ID",
    description: "VPC whose tagged route tables and NAT instances to manage",
    initial: { missing: "pass the VPC to manage, e.g. --vpc-id vpc-0123abcd" },
    parse: parseVpcId,
    alsoEnv: ["NAT_VPC_ID"],
  },
  clusterId: {
    flag: "cluster-id",
    placeholder: "ID",
    description: `Cluster to manage: the value of the ${TAG_CLUSTER_ID} tag`,
    initial: { value: "squid", shown: "squid" },
    parse: parseClusterId,
    alsoEnv: ["NAT_CLUSTER_ID"],
  },
  region: {
    flag: "region",
    example: "eu-west-1",
    placeholder: "REGION",
    description: "AWS region of the VPC, e.g. eu-west-1",
    initial: {
      value: undefined,
      shown: "AWS_REGION, then the AWS profile's region, then the instance metadata service",
    },
    parse: parseRegion,
    short: "r",
  },
  ec2Election: {
    ...toggle(
      "ec2-election",
      "Change AWS only on the oldest healthy NAT instance (run on every NAT instance)",
    ),
    alsoEnv: ["NAT_EC2_ELECTION"],
  },
  intervalMs: {
    ...duration(
      "interval",
      "How often to discover instances and route tables and reconcile",
      5_000,
      [1_000, DAY],
    ),
    alsoEnv: ["NAT_INTERVAL"],
  },
  timeoutMs: {
    ...duration(
      "timeout",
      "Health-check TCP connect timeout, less than --probe-interval (when --probe-interval " +
        "is not given, a timeout that does not fit under its default sets it to twice the " +
        "timeout)",
      100,
      [10, MINUTE],
    ),
    alsoEnv: ["NAT_HC_TIMEOUT"],
  },
  port: {
    flag: "port",
    placeholder: "PORT",
    description: "Health-check TCP port on every NAT instance",
    initial: { value: 3128, shown: "3128" },
    parse: parsePort("3128"),
    alsoEnv: ["NAT_HC_PORT"],
    short: "p",
  },
  public: {
    ...toggle("public", "Health-check the public IP instead of the private IP"),
    alsoEnv: ["NAT_HC_PUBLIC"],
  },
  probeIntervalMs: duration(
    "probe-interval",
    "How often to health-check every NAT instance",
    600,
    [100, 10 * MINUTE],
  ),
  probeAttempts: {
    flag: "probe-attempts",
    placeholder: "N",
    description: "Staggered TCP connects per health check, over one --timeout; " +
      "it passes if any succeeds (1 to 20)",
    initial: { value: 12, shown: "12" },
    parse: (text) => parseInteger(text, 1, 20, "12"),
  },
  fall: {
    flag: "fall",
    placeholder: "N",
    description: "Failed checks in a row before a NAT instance is unhealthy (1 to 10)",
    initial: { value: 1, shown: "1" },
    parse: (text) => parseInteger(text, 1, 10, "1"),
  },
  rise: {
    flag: "rise",
    placeholder: "N",
    description: "Passed checks in a row before it is healthy again (1 to 10)",
    initial: { value: 2, shown: "2" },
    parse: (text) => parseInteger(text, 1, 10, "2"),
  },
  failbackDelayMs: duration(
    "failback-delay",
    "How long a recovered NAT instance waits before it takes route tables back",
    30_000,
    [0, DAY],
  ),
  once: toggle(
    "once",
    "Run one cycle and exit; exit 1 if not done within " +
      formatDuration(ONCE_BASE_DEADLINE_MS) +
      " plus max(--fall, --rise) x --probe-interval (waiting for the region included)",
  ),
  dryRun: toggle("dry-run", "Decide everything but change nothing: print what would change"),
  recovery: {
    flag: "recovery",
    placeholder: "MODE",
    description: "What to do with a NAT instance that stays unhealthy: off, reboot or terminate",
    initial: { value: "off", shown: "off" },
    parse: parseChoice(RECOVERY_MODES),
  },
  recoveryAfterMs: duration(
    "recovery-after",
    "How long a NAT instance stays unhealthy before --recovery acts",
    5 * MINUTE,
    [5_000, DAY],
  ),
  fallbackNatGateway: {
    flag: "fallback-nat-gateway",
    example: "nat-0123abcd",
    placeholder: "GATEWAYS",
    description: "NAT gateway to route through when no NAT instance is healthy: nat-ID, " +
      "or ZONE=nat-ID pairs (one bare nat-ID as the default)",
    initial: { value: undefined, shown: "none" },
    parse: parseFallbackNatGateway,
  },
  selfCheck: toggle("self-check", "Check this node's own forwarding before it acts"),
  egressCheck: {
    flag: "egress-check",
    example: "example.com:443",
    placeholder: "HOST:PORT",
    description: "With --self-check: an endpoint outside the VPC the self-check must reach",
    initial: { value: undefined, shown: "none" },
    parse: (text) => parseHostPort(text, "example.com:443", undefined),
  },
  serveHealth: {
    flag: "serve-health",
    example: String(HEALTH_PORT),
    placeholder: "[ADDR:]PORT",
    description: "Accept health-check connections on PORT (on every interface, or ADDR) " +
      "while this node is healthy; a self-checking fleet sets every router's --port to it",
    initial: { value: undefined, shown: "off" },
    parse: parseListenPort(String(HEALTH_PORT)),
  },
  metricsListen: {
    flag: "metrics-listen",
    example: "127.0.0.1:9100",
    placeholder: "ADDR:PORT",
    description: "Serve Prometheus metrics on ADDR:PORT (:PORT for every interface)",
    initial: { value: undefined, shown: "off" },
    parse: (text) => parseHostPort(text, "127.0.0.1:9100", "0.0.0.0"),
  },
  heartbeatMs: {
    flag: "heartbeat",
    placeholder: "DURATION",
    description: "How often the daemon logs a router.heartbeat line at info: leader, healthy " +
      "NATs, tables on target, last successful cycle (0 for never, or 1s to 24h)",
    initial: { value: 5 * MINUTE, shown: "5m" },
    parse: (text) =>
      parseDuration(text) === 0 ? { ok: true, value: 0 } : parseDurationIn(text, 1_000, DAY, "5m"),
  },
  logLevel: {
    flag: "log-level",
    placeholder: "LEVEL",
    description: "Log level: debug, info, warn or error",
    initial: { value: "info", shown: "info" },
    parse: parseChoice(LOG_LEVEL_NAMES, {
      warning: "warn",
      trace: "debug",
      fatal: "error",
      panic: "error",
    }),
    alsoEnv: ["LOG_LEVEL"],
    short: "l",
  },
  output: {
    flag: "output",
    placeholder: "FORMAT",
    description: "How status prints its report: table or json",
    initial: { value: "table", shown: "table" },
    parse: parseChoice(OUTPUT_FORMATS),
    onlyFor: "status",
  },
};

/** Flags that print something and exit instead of running. */
const ACTION_FLAGS = [
  { flag: "help", short: "h", description: "Print this help and exit." },
  { flag: "version", short: undefined, description: "Print the version and exit." },
] as const;

/**
 * Settings read from one environment variable each, with no flag: knobs for operations and
 * tests that `--help` does not list (the README does). Any text is taken as is (trimmed;
 * empty counts as unset).
 */
const ENV_ONLY: { readonly [K in EnvOnlyKey]: { readonly env: string; readonly initial: string } } =
  {
    /** Tests; containers with the host's /proc elsewhere. */
    ipForwardPath: {
      env: "AWS_NAT_ROUTER_IP_FORWARD_PATH",
      initial: "/proc/sys/net/ipv4/ip_forward",
    },
    /** Every interface: what peers reach, whichever address they probe (tests: a 127.x). */
    serveHealthAddress: { env: "AWS_NAT_ROUTER_SERVE_HEALTH_ADDRESS", initial: "0.0.0.0" },
    /** Tests: a network-namespace "reboot" keeps the kernel's uptime. */
    bootedAt: { env: "AWS_NAT_ROUTER_BOOTED_AT", initial: "" },
  };

/** Bounds of one EC2 request's timeout: at least 2s however short `--interval` is. */
const MIN_REQUEST_TIMEOUT_MS = 2_000;
/** ...and at most 10s however long `--interval` is. */
const MAX_REQUEST_TIMEOUT_MS = 10_000;

/** The values computed from the flags: one place, one name each. */
export function deriveTimings(
  settings: Pick<Config, "intervalMs" | "probeIntervalMs" | "failbackDelayMs">,
): Pick<Config, DerivedKey> {
  const requestTimeoutMs = Math.max(
    MIN_REQUEST_TIMEOUT_MS,
    Math.min(MAX_REQUEST_TIMEOUT_MS, settings.intervalMs),
  );
  return {
    requestTimeoutMs,
    writeTrustMs: 2 * settings.intervalMs,
    splitBackoffMs: Math.max(MIN_SPLIT_BACKOFF_MS, 8 * settings.failbackDelayMs),
    successionMs: requestTimeoutMs + settings.probeIntervalMs,
  };
}

/** The least first back-off on a suspected split (see `Config.splitBackoffMs`). */
const MIN_SPLIT_BACKOFF_MS = 4 * MINUTE;

/**
 * When `--probe-interval` is not given and `--timeout` does not fit under its default, the
 * probe interval is this many timeouts: a probe that times out still leaves as long again
 * before the next one. The original tool accepted any timeout; its units set 1s or 2s.
 */
export const PROBE_INTERVAL_PER_TIMEOUT = 2;

/** The flags the original tool took for credentials: refused, with where they go instead. */
const SECRET_FLAGS = ["aws-access-key", "aws-secret-key"] as const;

const KEYS = Object.keys(FLAGS) as (keyof Settings)[];
const SPECS: readonly FlagSpec<unknown>[] = KEYS.map((key) => FLAGS[key]);
const ENV_ONLY_KEYS = Object.keys(ENV_ONLY) as EnvOnlyKey[];

function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replaceAll("-", "_");
}

function envNamesOf(spec: FlagSpec<unknown>): string[] {
  return [envName(spec.flag), ...(spec.alsoEnv ?? [])];
}

/** Every environment variable `parseConfig` reads, for a caller that must list them. */
export const ENV_NAMES: readonly string[] = [
  ...SPECS.flatMap(envNamesOf),
  ...ENV_ONLY_KEYS.map((key) => ENV_ONLY[key].env),
];

// ---------------------------------------------------------------------------------------
// Messages.

type Source =
  | { readonly kind: "flag" }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "default" };

/** `--port`, or `--port (set by AWS_NAT_ROUTER_PORT)`. */
function subject(spec: FlagSpec<unknown>, source: Source): string {
  return source.kind === "env" ? `--${spec.flag} (set by ${source.name})` : `--${spec.flag}`;
}

/** `--port "abc"`, or `AWS_NAT_ROUTER_PORT "abc" for --port`. */
function valueSubject(spec: FlagSpec<unknown>, source: Source, text: string): string {
  return source.kind === "env"
    ? `${source.name} ${quote(text)} for --${spec.flag}`
    : `--${spec.flag} ${quote(text)}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `name` (edit distance ≤ 2, or a unique prefix), if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best !== undefined) return best;
  const prefixed = known.filter((candidate) => name.length >= 3 && candidate.startsWith(name));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const ALL_FLAGS: readonly string[] = [
  ...SPECS.map((spec) => spec.flag),
  ...ACTION_FLAGS.map((action) => action.flag),
];

function unknownFlag(raw: string): string {
  const name = raw.replace(/^-+/, "").split("=")[0]?.toLowerCase().replaceAll("_", "-") ?? "";
  const guess = closest(name, ALL_FLAGS);
  const hint = `run ${PROGRAM} --help to list every flag`;
  return guess === undefined
    ? `Unknown flag ${quote(raw)}: ${hint}`
    : `Unknown flag ${quote(raw)}: did you mean --${guess}? Or ${hint}`;
}

function specByFlag(flag: string): FlagSpec<unknown> | undefined {
  return SPECS.find((spec) => spec.flag === flag);
}

function exampleUse(flag: string): string {
  const spec = specByFlag(flag);
  const value = spec?.example ?? (spec && "value" in spec.initial ? spec.initial.shown : "VALUE");
  return `--${flag} ${value}`;
}

/** Turns a `node:util` `parseArgs` error into one of our messages. */
function explainParseError(error: unknown, args: readonly string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const option = /'(-[^' ]*)/.exec(message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    if (option.startsWith("--")) return unknownFlag(option);
    // A single dash: report the whole word (`-vpc-id`), not its first letter.
    const letter = option.slice(1);
    const word = args.find((arg) => /^-[^-]/.test(arg) && arg.slice(1).startsWith(letter));
    return unknownFlag(word?.split("=")[0] ?? option);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const flag = option.replace(/^-+/, "");
    if (/does not take an argument/.test(message)) {
      const given = args.find((arg) => arg.startsWith(`${option}=`))?.slice(option.length) ?? "";
      return `Flag ${option} takes no value: drop ${quote(given)}, ` +
        `and leave ${option} out to turn it off`;
    }
    return `Missing a value for ${option}: pass it right after the flag, ` +
      `e.g. ${exampleUse(flag)} (write ${option}=VALUE for a value that starts with "-")`;
  }
  return `Cannot parse the command line: ${quote(message.split("\n")[0] ?? "")}; ` +
    `run ${PROGRAM} --help for usage`;
}

// ---------------------------------------------------------------------------------------
// Parsing.

interface Resolved<T> {
  readonly value: T;
  readonly source: Source;
}

type Step<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly error: string;
};

interface Context {
  readonly command: Command;
  /** Raw text given on the command line, per flag (switches: `undefined`). */
  readonly given: ReadonlyMap<string, string | undefined>;
  readonly env: Env;
  readonly warnings: string[];
}

function readEnv(env: Env, name: string): string | undefined {
  const text = env[name]?.trim();
  return text === "" ? undefined : text;
}

function resolve<T>(spec: FlagSpec<T>, context: Context): Step<Resolved<T>> {
  const fallback = (): Step<Resolved<T>> => {
    if ("value" in spec.initial) {
      return { ok: true, value: { value: spec.initial.value, source: { kind: "default" } } };
    }
    return {
      ok: false,
      error: `Missing --${spec.flag}: ${spec.initial.missing} (or set ${envName(spec.flag)})`,
    };
  };
  const applies = spec.onlyFor === undefined || spec.onlyFor === context.command;
  let text: string | undefined;
  let source: Source;
  if (context.given.has(spec.flag)) {
    if (!applies) {
      return {
        ok: false,
        error: `Flag --${spec.flag} only applies to ${PROGRAM} ${spec.onlyFor}: ` +
          `run ${PROGRAM} ${spec.onlyFor} ... --${spec.flag} ..., or drop --${spec.flag}`,
      };
    }
    source = { kind: "flag" };
    text = context.given.get(spec.flag);
    if (text === undefined) {
      // A switch on the command line: present means on.
      return { ok: true, value: { value: true as T, source } };
    }
  } else {
    if (!applies) return fallback(); // from the environment: ignored for other commands
    const name = envNamesOf(spec as FlagSpec<unknown>).find((name) =>
      readEnv(context.env, name) !== undefined
    );
    if (name === undefined) return fallback();
    source = { kind: "env", name };
    text = readEnv(context.env, name) ?? "";
  }
  const parsed = spec.parse(text);
  const who = valueSubject(spec as FlagSpec<unknown>, source, text);
  if (!parsed.ok) return { ok: false, error: `${parsed.verb} ${who}: ${parsed.detail}` };
  if (parsed.warning !== undefined) context.warnings.push(`Unusual ${who}: ${parsed.warning}`);
  return { ok: true, value: { value: parsed.value, source } };
}

type ResolvedSettings = { readonly [K in keyof Settings]: Resolved<Settings[K]> };

function resolveAll(context: Context): Step<ResolvedSettings> {
  const out: Record<string, Resolved<unknown>> = {};
  for (const key of KEYS) {
    const step = resolve<unknown>(FLAGS[key], context);
    if (!step.ok) return step;
    out[key] = step.value;
  }
  // Every key of FLAGS, each resolved by its own spec: the shape tsc cannot follow.
  return { ok: true, value: out as unknown as ResolvedSettings };
}

/**
 * A `--timeout` given alone that does not fit under the default probe interval sets the probe
 * interval to `PROBE_INTERVAL_PER_TIMEOUT` timeouts (said in one warning); given together,
 * they stay as they are and `crossCheck` judges them.
 */
function deriveProbeInterval(r: ResolvedSettings, warnings: string[]): ResolvedSettings {
  const timeout = r.timeoutMs.value;
  if (r.probeIntervalMs.source.kind !== "default" || timeout < r.probeIntervalMs.value) return r;
  const value = PROBE_INTERVAL_PER_TIMEOUT * timeout;
  warnings.push(
    `Derived --probe-interval ${quote(formatDuration(value))} from ` +
      `${subject(FLAGS.timeoutMs, r.timeoutMs.source)} ${quote(formatDuration(timeout))}: ` +
      `the default ${quote(formatDuration(r.probeIntervalMs.value))} is not longer than the ` +
      `timeout; pass --probe-interval to choose it`,
  );
  return { ...r, probeIntervalMs: { value, source: r.probeIntervalMs.source } };
}

/** Rules between flags, checked once every value is valid on its own. */
function crossCheck(r: ResolvedSettings): string | undefined {
  const given = (resolved: Resolved<unknown>) => resolved.source.kind !== "default";
  if (r.timeoutMs.value >= r.probeIntervalMs.value) {
    return `Conflicting ${subject(FLAGS.timeoutMs, r.timeoutMs.source)} ` +
      `${quote(formatDuration(r.timeoutMs.value))} and ` +
      `${subject(FLAGS.probeIntervalMs, r.probeIntervalMs.source)} ` +
      `${quote(formatDuration(r.probeIntervalMs.value))}: the timeout must be shorter than ` +
      `the probe interval; lower --timeout or raise --probe-interval`;
  }
  if (given(r.recoveryAfterMs) && r.recovery.value === "off") {
    return `Conflicting ${subject(FLAGS.recoveryAfterMs, r.recoveryAfterMs.source)} ` +
      `and --recovery "off": --recovery-after has no effect without recovery; ` +
      `add --recovery reboot or --recovery terminate, or drop --recovery-after`;
  }
  if (r.egressCheck.value !== undefined && !r.selfCheck.value) {
    return `Missing --self-check for ${subject(FLAGS.egressCheck, r.egressCheck.source)}: ` +
      `the egress check is part of the self-check; ` +
      `add --self-check, or drop --egress-check`;
  }
  return undefined;
}

/** Warnings for `AWS_NAT_ROUTER_*` variables that no flag reads (typos, old names). */
function unknownEnvWarnings(env: Env): string[] {
  const known = new Set(ENV_NAMES);
  const suffixes = SPECS.map((spec) => envName(spec.flag).slice(ENV_PREFIX.length));
  return Object.keys(env)
    .filter((name) => /^AWS_NAT_ROUTER_[A-Z0-9_]*$/.test(name) && !known.has(name))
    .filter((name) => env[name] !== undefined)
    .sort()
    .map((name) => {
      const guess = closest(name.slice(ENV_PREFIX.length), suffixes);
      const hint = guess === undefined
        ? `see ${PROGRAM} --help for the variables it reads`
        : `did you mean ${ENV_PREFIX}${guess}?`;
      return `Ignored ${name}: no flag reads it; ${hint}`;
    });
}

/** The command line in today's spelling, and the values given to switches as `--switch=VALUE`. */
interface Adapted {
  readonly args: readonly string[];
  /** Argument index → the text after `=` of a switch written `--switch=VALUE`. */
  readonly switchValues: ReadonlyMap<number, string>;
}

/**
 * Rewrites the original tool's spellings (Go's flag syntax) into today's, one argument for
 * one argument: `-l`/`-r`/`-p` and one-dash long flags (`-vpc-id`) become `--log-level`,
 * `--region`, `--port`, `--vpc-id`; `--switch=VALUE` becomes `--switch` with its value kept
 * aside. The original's secret flags are an error that never repeats their value.
 */
function adaptOriginalSpelling(args: readonly string[]): Adapted | { readonly error: string } {
  const out: string[] = [];
  const switchValues = new Map<number, string>();
  let takesValue = false;
  for (const [index, arg] of args.entries()) {
    const match = /^(-{1,2})([A-Za-z0-9][A-Za-z0-9-]*)(=[^]*)?$/.exec(arg);
    if (takesValue || arg === "--" || match === null) {
      takesValue = false;
      out.push(arg);
      if (arg === "--") {
        out.push(...args.slice(index + 1));
        break;
      }
      continue;
    }
    const [, dashes, written = "", assigned] = match;
    const name = dashes === "-" && written.length === 1
      ? SPECS.find((spec) => spec.short === written)?.flag
      : dashes === "-" && written.length > 1 &&
          [...ALL_FLAGS, ...SECRET_FLAGS].includes(written)
      ? written
      : dashes === "--"
      ? written
      : undefined;
    if (name === undefined) {
      out.push(arg);
      continue;
    }
    if ((SECRET_FLAGS as readonly string[]).includes(name)) {
      return {
        error: `Flag ${dashes}${written} is not accepted: credentials never go on the ` +
          `command line, where ps and the journal show them; set AWS_ACCESS_KEY_ID and ` +
          `AWS_SECRET_ACCESS_KEY in the service's environment, use AWS_PROFILE, ` +
          `or attach an instance role`,
      };
    }
    const spec = specByFlag(name);
    if (spec?.placeholder === undefined && spec !== undefined && assigned !== undefined) {
      switchValues.set(index, assigned.slice(1));
      out.push(`--${name}`);
      continue;
    }
    takesValue = spec?.placeholder !== undefined && assigned === undefined;
    out.push(`--${name}${assigned ?? ""}`);
  }
  return { args: out, switchValues };
}

/**
 * Reads the command line (without the program name) and the environment. `--help` and
 * `--version` anywhere before `--` win; otherwise the result is a complete, validated
 * `Config` or a one-line error message.
 */
export function parseConfig(original: readonly string[], env: Env): ParseResult {
  const adapted = adaptOriginalSpelling(original);
  const terminator0 = original.indexOf("--");
  const before = terminator0 < 0 ? original : original.slice(0, terminator0);
  if (before.includes("--help") || before.includes("-h")) return { ok: true, action: "help" };
  if (before.includes("--version")) return { ok: true, action: "version" };
  if ("error" in adapted) return { ok: false, error: adapted.error };
  const { args, switchValues } = adapted;
  const terminator = args.indexOf("--");
  const flags = terminator < 0 ? args : args.slice(0, terminator);
  if (flags.includes("--help") || flags.includes("-h")) return { ok: true, action: "help" };
  if (flags.includes("--version")) return { ok: true, action: "version" };

  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const spec of SPECS) {
    options[spec.flag] = { type: spec.placeholder === undefined ? "boolean" : "string" };
  }
  for (const action of ACTION_FLAGS) {
    options[action.flag] = action.short === undefined
      ? { type: "boolean" }
      : { type: "boolean", short: action.short };
  }
  let tokens: Token[];
  try {
    tokens =
      parseArgs({ args: [...args], options, strict: true, allowPositionals: true, tokens: true })
        .tokens;
  } catch (error) {
    return { ok: false, error: explainParseError(error, flags) };
  }

  const given = new Map<string, string | undefined>();
  let command: Command = "run";
  let positionals = 0;
  let previous: Token | undefined;
  for (const token of tokens) {
    if (token.kind === "option") {
      if (given.has(token.name)) {
        const first = given.get(token.name);
        const values = first === undefined || token.value === undefined
          ? ""
          : ` (${quote(first)} and ${quote(token.value)})`;
        return {
          ok: false,
          error: `Duplicate flag --${token.name}: given twice${values}; pass it once`,
        };
      }
      given.set(token.name, switchValues.get(token.index) ?? token.value);
    } else if (token.kind === "positional") {
      positionals++;
      if (positionals === 1 && (SUBCOMMANDS as readonly string[]).includes(token.value)) {
        command = token.value as Command;
      } else if (
        previous?.kind === "option" && previous.value === undefined &&
        previous.index === token.index - 1
      ) {
        return {
          ok: false,
          error: `Unexpected argument ${quote(token.value)} after ${previous.rawName}: ` +
            `${previous.rawName} is a switch and takes no value; drop ${quote(token.value)} ` +
            `(or set ${envName(previous.name)} in the environment)`,
        };
      } else {
        const guess = closest(token.value.toLowerCase(), SUBCOMMANDS);
        const hint = guess === undefined || positionals > 1
          ? `the subcommands are ${SUBCOMMANDS.join(", ")}, and flags start with --; ` +
            `run ${PROGRAM} --help for usage`
          : `did you mean ${guess}? Subcommands come first: ${PROGRAM} ${guess} --vpc-id ...`;
        return { ok: false, error: `Unexpected argument ${quote(token.value)}: ${hint}` };
      }
    }
    previous = token;
  }

  const warnings: string[] = [];
  const resolved = resolveAll({ command, given, env, warnings });
  if (!resolved.ok) return { ok: false, error: resolved.error };
  const timed = deriveProbeInterval(resolved.value, warnings);
  const conflict = crossCheck(timed);
  if (conflict !== undefined) return { ok: false, error: conflict };

  const settings = {} as { -readonly [K in keyof Settings]: Settings[K] };
  const copy = <K extends keyof Settings>(key: K) => {
    settings[key] = timed[key].value;
  };
  for (const key of KEYS) copy(key);
  const envOnly = {} as { -readonly [K in EnvOnlyKey]: string };
  for (const key of ENV_ONLY_KEYS) {
    envOnly[key] = readEnv(env, ENV_ONLY[key].env) ?? ENV_ONLY[key].initial;
  }
  return {
    ok: true,
    action: "config",
    config: {
      command,
      ...settings,
      ...envOnly,
      serveHealth: settings.serveHealth?.port,
      serveHealthAddress: settings.serveHealth?.hostname ?? envOnly.serveHealthAddress,
      ...deriveTimings(settings),
    },
    warnings: [...warnings, ...splitWarnings(command, settings), ...unknownEnvWarnings(env)],
  };
}

/**
 * A failback delay shorter than (rise + 1) probe intervals lets a NAT come back, take a table
 * and fail again before a peer's slower view sees it up: a move then proves no split, so
 * split detection is off (see `decide()`). Said once at start, for the daemon.
 */
function splitWarnings(
  command: Command,
  s: Pick<Settings, "failbackDelayMs" | "rise" | "probeIntervalMs">,
): string[] {
  const least = leastProvingFailbackMs(s);
  if (command !== "run" || s.failbackDelayMs >= least) return [];
  return [
    `--failback-delay ${formatDuration(s.failbackDelayMs)} is shorter than (--rise + 1) x ` +
    `--probe-interval (${formatDuration(least)}): nodes that cannot reach each other are not ` +
    `told from a NAT that came back briefly, so they are not kept from fighting; use ` +
    `--failback-delay ${formatDuration(least)} or more`,
  ];
}

// ---------------------------------------------------------------------------------------
// Help.

/** Splits `text` into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** The `--help` text: usage, every flag with its default and variable, and the rules. */
export function helpText(): string {
  const rows = [
    ...SPECS.map((spec) => ({
      left: `${spec.short === undefined ? "" : `-${spec.short}, `}--${spec.flag}` +
        `${spec.placeholder === undefined ? "" : ` ${spec.placeholder}`}`,
      text: [
        spec.description + (spec.onlyFor ? ` (${spec.onlyFor} only).` : "."),
        `${"value" in spec.initial ? `Default: ${spec.initial.shown}` : "Required"}; ` +
        `env: ${envNamesOf(spec).join(", then ")}`,
      ],
    })),
    ...ACTION_FLAGS.map((action) => ({
      left: action.short === undefined ? `--${action.flag}` : `-${action.short}, --${action.flag}`,
      text: [action.description],
    })),
  ];
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  const pad = " ".repeat(width + 2);
  const flagLines = rows.flatMap((row) => {
    const lines = row.text.flatMap((paragraph) => wrap(paragraph, 98 - width));
    return lines.map((line, i) => (i === 0 ? `  ${row.left.padEnd(width)}` : pad) + line);
  });
  const usage = [
    [`${PROGRAM} --vpc-id ID [flags]`, "Run the controller (on every NAT instance)"],
    [`${PROGRAM} status --vpc-id ID [flags]`, "Print the NAT instances and route tables once"],
    [`${PROGRAM} drain --vpc-id ID [flags]`, "On a NAT instance: move its route tables off it"],
    [`${PROGRAM} undrain --vpc-id ID [flags]`, "On a NAT instance: end its drain"],
  ];
  const usageWidth = Math.max(...usage.map(([left]) => left?.length ?? 0)) + 2;
  return [
    `${PROGRAM} keeps the default route (0.0.0.0/0) of every route table tagged`,
    `${TAG_CLUSTER_ID}=<cluster id> in a VPC on a healthy NAT instance of the cluster.`,
    "",
    "Usage:",
    ...usage.map(([left, text]) => `  ${(left ?? "").padEnd(usageWidth)}${text}`),
    "",
    "Flags:",
    ...flagLines,
    "",
    `Every flag can also be set in the environment as ${ENV_PREFIX}<FLAG>; the command line`,
    "wins over the environment, and an empty variable counts as unset. Switches take no value",
    "on the command line (or --switch=true|false) and read true/false, 1/0 or yes/no from the",
    "environment. Durations are written like 500ms, 5s, 1m30s or 2h (units: ns, us, ms, s, m, h).",
    "The original tool's spellings work too: -vpc-id, -l/-r/-p, and its NAT_* variables.",
    "",
    "AWS credentials come from the AWS SDK's default chain (environment, shared profile,",
    "instance role) and are never taken on the command line. The standard AWS_* variables",
    "work, AWS_ENDPOINT_URL_EC2 included. Exit codes: 0 done, 1 failed, 2 bad input.",
  ].join("\n");
}
