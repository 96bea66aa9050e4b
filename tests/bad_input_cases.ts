/**
 * @module Invalid invocations of the program: command lines and environments that must be
 * refused with a one-line error naming the offending flag or variable and saying how to fix
 * it (exit code 2, nothing changed in AWS). Shared by the unit tests of `lib/core/config.ts` and
 * by end-to-end tests that run the real program. Plain data, no imports.
 */

export interface BadInputCase {
  /** Reads as a sentence after "refuses ...". */
  readonly name: string;
  /** Command line without the program name. */
  readonly args: readonly string[];
  /** The only environment variables set (besides whatever the runner needs). */
  readonly env: Readonly<Record<string, string>>;
  /** Text the error must contain: the flag, variable or argument at fault. */
  readonly mentions: string;
}

const VPC = ["--vpc-id", "vpc-0123abcd"] as const;
const ENV_VPC = { AWS_NAT_ROUTER_VPC_ID: "vpc-0123abcd" } as const;

export const BAD_INPUT_CASES: readonly BadInputCase[] = [
  // Unknown flags and stray arguments.
  { name: "an unknown flag", args: [...VPC, "--bogus"], env: {}, mentions: "--bogus" },
  { name: "a misspelled flag", args: ["--vpcid", "vpc-0123abcd"], env: {}, mentions: "--vpcid" },
  {
    name: "a misspelled long flag with one dash",
    args: ["-vpcid", "vpc-0123abcd"],
    env: {},
    mentions: "-vpcid",
  },
  { name: "an unknown short flag", args: [...VPC, "-x"], env: {}, mentions: "-x" },
  { name: "an unknown subcommand", args: ["start", ...VPC], env: {}, mentions: "start" },
  {
    name: "a second positional argument",
    args: ["status", "now", ...VPC],
    env: {},
    mentions: "now",
  },
  { name: "an argument after --", args: [...VPC, "--", "--once"], env: {}, mentions: "--once" },
  {
    name: "a value after a switch",
    args: [...VPC, "--ec2-election", "true"],
    env: {},
    mentions: "--ec2-election",
  },
  { name: "a switch with =maybe", args: [...VPC, "--once=maybe"], env: {}, mentions: "--once" },
  {
    name: "a one-dash switch with =value that is not a boolean",
    args: [...VPC, "-ec2-election=on"],
    env: {},
    mentions: "--ec2-election",
  },

  // --serve-health [ADDR:]PORT.
  {
    name: "a --serve-health ADDR:PORT with port 0",
    args: [...VPC, "--serve-health", "10.0.1.5:0"],
    env: {},
    mentions: "--serve-health",
  },
  {
    name: "a --serve-health IPv6 address without brackets",
    args: [...VPC, "--serve-health", "::1:3127"],
    env: {},
    mentions: "--serve-health",
  },
  {
    name: "a --serve-health with a bad host",
    args: [...VPC, "--serve-health", "not a host:3127"],
    env: {},
    mentions: "--serve-health",
  },

  // The original tool's secret flags: credentials never go on the command line.
  {
    name: "the original's --aws-access-key",
    args: [...VPC, "--aws-access-key", "AKIAEXAMPLEKEY000000"],
    env: {},
    mentions: "--aws-access-key",
  },
  {
    name: "the original's --aws-secret-key=VALUE",
    args: [...VPC, "--aws-secret-key=wJalrXUtnFEMI/EXAMPLEKEY"],
    env: {},
    mentions: "--aws-secret-key",
  },
  {
    name: "the original's -aws-secret-key with one dash",
    args: ["-aws-secret-key", "wJalrXUtnFEMI/EXAMPLEKEY", ...VPC],
    env: {},
    mentions: "-aws-secret-key",
  },

  // The original tool's variables.
  {
    name: "a malformed NAT_HC_PORT",
    args: VPC,
    env: { NAT_HC_PORT: "abc" },
    mentions: "NAT_HC_PORT",
  },
  {
    name: "a NAT_EC2_ELECTION that is not a boolean",
    args: VPC,
    env: { NAT_EC2_ELECTION: "maybe" },
    mentions: "NAT_EC2_ELECTION",
  },
  {
    name: "a malformed NAT_VPC_ID",
    args: [],
    env: { NAT_VPC_ID: "vpc-xyz" },
    mentions: "NAT_VPC_ID",
  },
  {
    name: "a NAT_HC_TIMEOUT in conflict with a given --probe-interval",
    args: [...VPC, "--probe-interval", "1s"],
    env: { NAT_HC_TIMEOUT: "2s" },
    mentions: "NAT_HC_TIMEOUT",
  },
  {
    name: "a flag given twice",
    args: [...VPC, "--port", "1", "--port", "2"],
    env: {},
    mentions: "--port",
  },
  { name: "a switch given twice", args: [...VPC, "--once", "--once"], env: {}, mentions: "--once" },

  // --vpc-id and --cluster-id.
  { name: "a missing --vpc-id", args: ["--cluster-id", "squid"], env: {}, mentions: "--vpc-id" },
  { name: "--vpc-id without a value", args: ["--vpc-id"], env: {}, mentions: "--vpc-id" },
  { name: "an empty --vpc-id", args: ["--vpc-id="], env: {}, mentions: "--vpc-id" },
  {
    name: "a subnet id as --vpc-id",
    args: ["--vpc-id", "subnet-0123abcd"],
    env: {},
    mentions: "--vpc-id",
  },
  {
    name: "a VPC id in upper case",
    args: ["--vpc-id", "vpc-0123ABCD"],
    env: {},
    mentions: "--vpc-id",
  },
  {
    name: "a VPC id that is not hex",
    args: ["--vpc-id", "vpc-xyz"],
    env: {},
    mentions: "--vpc-id",
  },
  {
    name: "a malformed AWS_NAT_ROUTER_VPC_ID",
    args: [],
    env: { AWS_NAT_ROUTER_VPC_ID: "vpc-nope" },
    mentions: "AWS_NAT_ROUTER_VPC_ID",
  },
  {
    name: "an empty --cluster-id",
    args: [...VPC, "--cluster-id", ""],
    env: {},
    mentions: "--cluster-id",
  },
  {
    name: "a blank --cluster-id",
    args: [...VPC, "--cluster-id", "   "],
    env: {},
    mentions: "--cluster-id",
  },
  {
    name: "a --cluster-id a tag cannot hold",
    args: [...VPC, "--cluster-id", "squid!"],
    env: {},
    mentions: "--cluster-id",
  },
  {
    name: "a --cluster-id with a line break",
    args: [...VPC, "--cluster-id", "squid\nINFO route.replaced"],
    env: {},
    mentions: "--cluster-id",
  },
  {
    name: "a --cluster-id longer than a tag value",
    args: [...VPC, "--cluster-id", "s".repeat(257)],
    env: {},
    mentions: "--cluster-id",
  },

  // Durations.
  {
    name: "a duration without a unit",
    args: [...VPC, "--interval", "5"],
    env: {},
    mentions: "--interval",
  },
  { name: "a negative duration", args: [...VPC, "--timeout=-1s"], env: {}, mentions: "--timeout" },
  {
    name: "a negative duration without =",
    args: [...VPC, "--timeout", "-1s"],
    env: {},
    mentions: "--timeout",
  },
  {
    name: "an unknown duration unit",
    args: [...VPC, "--interval", "1y"],
    env: {},
    mentions: "--interval",
  },
  { name: "a garbled duration", args: [...VPC, "--timeout", "5x"], env: {}, mentions: "--timeout" },
  {
    name: "a zero --interval",
    args: [...VPC, "--interval", "0s"],
    env: {},
    mentions: "--interval",
  },
  {
    name: "an --interval under a second",
    args: [...VPC, "--interval", "500ms"],
    env: {},
    mentions: "--interval",
  },
  { name: "a zero --timeout", args: [...VPC, "--timeout", "0s"], env: {}, mentions: "--timeout" },
  {
    name: "a --timeout as long as a given --probe-interval",
    args: [...VPC, "--timeout", "1s", "--probe-interval", "1s"],
    env: {},
    mentions: "--timeout",
  },
  {
    name: "a --probe-interval under 100ms",
    args: [...VPC, "--probe-interval", "50ms", "--timeout", "20ms"],
    env: {},
    mentions: "--probe-interval",
  },
  {
    name: "a --recovery-after under five seconds",
    args: [...VPC, "--recovery", "reboot", "--recovery-after", "2s"],
    env: {},
    mentions: "--recovery-after",
  },
  {
    name: "a unit-less AWS_NAT_ROUTER_INTERVAL",
    args: [...VPC],
    env: { AWS_NAT_ROUTER_INTERVAL: "5" },
    mentions: "AWS_NAT_ROUTER_INTERVAL",
  },

  // Numbers and choices.
  { name: "port 0", args: [...VPC, "--port", "0"], env: {}, mentions: "--port" },
  { name: "port 65536", args: [...VPC, "--port", "65536"], env: {}, mentions: "--port" },
  {
    name: "a port that is not a number",
    args: [...VPC, "--port", "abc"],
    env: {},
    mentions: "--port",
  },
  { name: "a fractional port", args: [...VPC, "--port", "3.5"], env: {}, mentions: "--port" },
  {
    name: "AWS_NAT_ROUTER_PORT=abc",
    args: [],
    env: { ...ENV_VPC, AWS_NAT_ROUTER_PORT: "abc" },
    mentions: "AWS_NAT_ROUTER_PORT",
  },
  { name: "--fall 0", args: [...VPC, "--fall", "0"], env: {}, mentions: "--fall" },
  { name: "--rise 11", args: [...VPC, "--rise", "11"], env: {}, mentions: "--rise" },
  {
    name: "an unknown log level",
    args: [...VPC, "--log-level", "verbose"],
    env: {},
    mentions: "--log-level",
  },
  {
    name: "an unknown LOG_LEVEL",
    args: [...VPC],
    env: { LOG_LEVEL: "verbose" },
    mentions: "LOG_LEVEL",
  },
  {
    name: "--recovery reboot2",
    args: [...VPC, "--recovery", "reboot2"],
    env: {},
    mentions: "--recovery",
  },
  {
    name: "a region without a number",
    args: [...VPC, "--region", "us-east"],
    env: {},
    mentions: "--region",
  },
  {
    name: "--serve-health 0",
    args: [...VPC, "--serve-health", "0"],
    env: {},
    mentions: "--serve-health",
  },
  {
    name: "AWS_NAT_ROUTER_EC2_ELECTION=maybe",
    args: [],
    env: { ...ENV_VPC, AWS_NAT_ROUTER_EC2_ELECTION: "maybe" },
    mentions: "AWS_NAT_ROUTER_EC2_ELECTION",
  },
  {
    name: "AWS_NAT_ROUTER_DRY_RUN=on",
    args: [...VPC],
    env: { AWS_NAT_ROUTER_DRY_RUN: "on" },
    mentions: "AWS_NAT_ROUTER_DRY_RUN",
  },

  // NAT gateways and addresses.
  {
    name: "a fallback NAT gateway id that is not hex",
    args: [...VPC, "--fallback-nat-gateway", "nat-xyz"],
    env: {},
    mentions: "--fallback-nat-gateway",
  },
  {
    name: "a fallback NAT gateway without a zone before =",
    args: [...VPC, "--fallback-nat-gateway", "=nat-0123abcd"],
    env: {},
    mentions: "--fallback-nat-gateway",
  },
  {
    name: "two default fallback NAT gateways",
    args: [...VPC, "--fallback-nat-gateway", "nat-0123abcd,nat-0456cdef"],
    env: {},
    mentions: "--fallback-nat-gateway",
  },
  {
    name: "a zone with two fallback NAT gateways",
    args: [...VPC, "--fallback-nat-gateway", "us-east-1a=nat-0123abcd,us-east-1a=nat-0456cdef"],
    env: {},
    mentions: "--fallback-nat-gateway",
  },
  {
    name: "an empty entry in the fallback NAT gateways",
    args: [...VPC, "--fallback-nat-gateway", "us-east-1a=nat-0123abcd,"],
    env: {},
    mentions: "--fallback-nat-gateway",
  },
  {
    name: "--metrics-listen without a port",
    args: [...VPC, "--metrics-listen", "127.0.0.1"],
    env: {},
    mentions: "--metrics-listen",
  },
  {
    name: "--metrics-listen with a bare IPv6 address",
    args: [...VPC, "--metrics-listen", "::1:9100"],
    env: {},
    mentions: "--metrics-listen",
  },
  {
    name: "--metrics-listen with port 70000",
    args: [...VPC, "--metrics-listen", "127.0.0.1:70000"],
    env: {},
    mentions: "--metrics-listen",
  },
  {
    name: "--egress-check without a port",
    args: [...VPC, "--self-check", "--egress-check", "example.com"],
    env: {},
    mentions: "--egress-check",
  },

  // --heartbeat.
  {
    name: "a --heartbeat that is not a duration",
    args: [...VPC, "--heartbeat", "often"],
    env: {},
    mentions: "--heartbeat",
  },
  {
    name: "a --heartbeat shorter than a second",
    args: [...VPC, "--heartbeat", "100ms"],
    env: {},
    mentions: "--heartbeat",
  },
  {
    name: "an AWS_NAT_ROUTER_HEARTBEAT longer than a day",
    args: [...VPC],
    env: { AWS_NAT_ROUTER_HEARTBEAT: "25h" },
    mentions: "AWS_NAT_ROUTER_HEARTBEAT",
  },

  // Flags that conflict.
  {
    name: "--egress-check without --self-check",
    args: [...VPC, "--egress-check", "example.com:443"],
    env: {},
    mentions: "--egress-check",
  },
  {
    name: "--recovery-after without --recovery",
    args: [...VPC, "--recovery-after", "10m"],
    env: {},
    mentions: "--recovery-after",
  },
  {
    name: "AWS_NAT_ROUTER_RECOVERY_AFTER without recovery",
    args: [...VPC],
    env: { AWS_NAT_ROUTER_RECOVERY_AFTER: "10m" },
    mentions: "AWS_NAT_ROUTER_RECOVERY_AFTER",
  },
  {
    name: "--output xml",
    args: ["status", ...VPC, "--output", "xml"],
    env: {},
    mentions: "--output",
  },
  {
    name: "--output without the status subcommand",
    args: [...VPC, "--output", "json"],
    env: {},
    mentions: "--output",
  },
];

/**
 * `--fallback-nat-gateway` values that parse but name a gateway the router cannot use. Only
 * EC2 can tell (DescribeNatGateways, after the region and credentials), so these run against
 * a simulated VPC holding `gateway` (absent: EC2 does not know the id); the router must exit
 * 2 with one line naming the gateway, and change nothing.
 */
export interface BadFallbackGatewayCase {
  readonly name: string;
  /** The gateway the simulated EC2 holds under the configured id; `undefined`: none. */
  readonly gateway:
    | {
      readonly state: "pending" | "available" | "deleted" | "failed";
      readonly connectivityType: "public" | "private";
      readonly inOtherVpc: boolean;
    }
    | undefined;
  /** Text the error must contain besides the gateway id. */
  readonly mentions: string;
}

export const BAD_FALLBACK_GATEWAY_CASES: readonly BadFallbackGatewayCase[] = [
  { name: "a fallback gateway EC2 does not know", gateway: undefined, mentions: "does not know" },
  {
    name: "a fallback gateway still pending",
    gateway: { state: "pending", connectivityType: "public", inOtherVpc: false },
    mentions: '"pending", not "available"',
  },
  {
    name: "a fallback gateway in another VPC",
    gateway: { state: "available", connectivityType: "public", inOtherVpc: true },
    mentions: 'not "vpc-',
  },
  {
    name: "a private fallback gateway",
    gateway: { state: "available", connectivityType: "private", inOtherVpc: false },
    mentions: "cannot reach the internet",
  },
  {
    name: "a deleted fallback gateway",
    gateway: { state: "deleted", connectivityType: "public", inOtherVpc: false },
    mentions: '"deleted", not "available"',
  },
];
