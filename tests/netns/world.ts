/**
 * @module The namespace world: a simulated VPC whose packets are real. Linux network
 * namespaces joined by veth pairs, all named with a per-run prefix (see `host.ts`):
 *
 * - `vpc`: one bridge, the VPC's 198.19.0.0/16 (every instance is on-link);
 * - `natN`: a NAT instance: `in0` = its private IP as `DescribeInstances` reports it, `out0` =
 *   its public IP in 198.18.1.0/24 towards the internet, `ip_forward=1`, nftables masquerade
 *   out of `out0`, the squid stand-in on the health port, the metadata service at
 *   169.254.169.254:80 (IMDSv2, that instance), and `ec2.<region>.amazonaws.com` in its hosts
 *   file. Its router runs there with exactly `deno run -P=default main.ts`. Its own egress
 *   (the internet, the EC2 endpoint) goes through its default route, which follows its own
 *   subnet's route table (explicit, else the main one) once the simulated VPC has one: an
 *   internet gateway route goes out directly, a route to a NAT goes through that NAT (to
 *   itself: a loop, nothing gets out);
 * - `subN`: a private subnet with one client sending datagrams and connections to the sink;
 *   its default route follows its route table in the simulated EC2 (the VPC router below),
 *   which drops what it sends to an interface whose source/destination check is on;
 * - `gw`: the managed NAT gateway (forwarding and masquerade, no router), for the fallback;
 * - `inet`: the internet, 198.18.0.1/16 on a bridge: the UDP sink and TCP server, which record
 *   the source after NAT (so which NAT carried each packet), and the EC2 endpoint over TLS at
 *   198.18.255.1:443 (reached through each NAT's outside link, as on AWS).
 *
 * The EC2 simulator and the metadata services stay in this process on 127.0.0.1; agents in the
 * namespaces relay their TCP/TLS connections over Unix sockets to it, so nothing is added to
 * the host's own network namespace. No namespace has a route beyond 198.18.0.0/15, so no
 * packet can leave the world. Faults are real: links down, nftables drop rules, `ip_forward`.
 */
import { TAG_CLUSTER_ID, TAG_ZONE } from "../../lib/model.ts";
import { Ec2Sim } from "../sim/ec2_sim.ts";
import { type Ec2Call, type Ec2FaultKind, Ec2Server } from "../sim/ec2_server.ts";
import { ImdsServer } from "../sim/imds.ts";
import { type RouterProcess, startRouter } from "../router_process.ts";
import type { AgentSpec } from "./agent.ts";
import { checkHost, must, newPrefix, nft, removeNamespace, run, sweepStale } from "./host.ts";
import { makeTestCa } from "./tls.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const AGENT = new URL("./agent.ts", import.meta.url).pathname;
export const SINK_ADDRESS = "198.18.0.1";
export const EC2_ADDRESS = "198.18.255.1";
export const GATEWAY_PRIVATE_IP = "198.19.0.250";
export const GATEWAY_PUBLIC_IP = "198.18.2.1";
const UDP_PORT = 9000;
const TCP_PORT = 9001;
export const HEALTH_PORT = 3128;

/** When `AWS_NAT_ROUTER_SKIP_NETNS=1`: the namespace tests skip, loudly. */
export const SKIP_NETNS = Deno.env.get("AWS_NAT_ROUTER_SKIP_NETNS") === "1";

/**
 * Whether to run the namespace tests: `false` (with a loud line) when skipping is asked for;
 * throws one line naming what is missing when the host cannot build the world.
 */
export async function netnsAvailable(log: (line: string) => void): Promise<boolean> {
  if (SKIP_NETNS) {
    log(
      "!!! SKIPPED: namespace tests (AWS_NAT_ROUTER_SKIP_NETNS=1): real packets were NOT tested !!!",
    );
    return false;
  }
  const host = await checkHost(log);
  if (!host.ok) {
    throw new Error(
      `Cannot build the namespace world: missing ${host.missing}; run as root on Linux, ` +
        `or set AWS_NAT_ROUTER_SKIP_NETNS=1 to skip`,
    );
  }
  return true;
}

export interface NetWorldOptions {
  readonly region?: string;
  /** NAT instances per zone (default [2, 1]: three NATs in two zones). */
  readonly natsPerZone?: readonly number[];
  /** Private subnets (each with its own tagged route table) per zone (default 2). */
  readonly subnetsPerZone?: number;
  /** Datagram period of every client (default 10 ms). */
  readonly everyMs?: number;
  /** How long the VPC router waits before applying a route write (default 0). */
  readonly propagationDelayMs?: number;
  readonly clusterId?: string;
  /** Echo router log lines (debugging). */
  readonly echo?: boolean;
  /**
   * Source/destination check of every NAT interface at launch (default false, as an operator
   * sets up a NAT instance; true as EC2 launches every instance). While it is on for the
   * interface a route names, the VPC router drops what that route sends (as EC2 does).
   */
  readonly sourceDestCheck?: boolean;
  /** Network interfaces of each NAT instance (default 1). */
  readonly natInterfaces?: number;
}

export interface WorldNat {
  readonly instanceId: string;
  readonly index: number;
  readonly ns: string;
  readonly zone: string;
  readonly privateIp: string;
  readonly publicIp: string;
  readonly imds: ImdsServer;
  /** When the NAT last (re)booted: its router reads it as `AWS_NAT_ROUTER_BOOTED_AT`. */
  bootedAt: number;
  router: RouterProcess | undefined;
  squid: Agent | undefined;
}

export interface WorldSubnet {
  /** `sub1`, … as the client labels its datagrams. */
  readonly name: string;
  readonly subnetId: string;
  readonly routeTableId: string;
  readonly ns: string;
  readonly zone: string;
  readonly ip: string;
}

/** One datagram as the sink saw it. */
export interface Arrival {
  readonly seq: number;
  /** Source after NAT: which NAT (public IP) carried it. */
  readonly source: string;
  /** Wall clock, ms since the epoch. */
  readonly at: number;
}

interface Agent {
  readonly lines: string[];
  readonly ready: Promise<void>;
  readonly exited: Promise<unknown>;
  readonly child: Deno.ChildProcess;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class NetWorld {
  readonly prefix: string;
  readonly region: string;
  readonly clusterId: string;
  readonly sim: Ec2Sim;
  readonly vpcId: string;
  readonly natGatewayId: string;
  readonly nats: WorldNat[] = [];
  readonly subnets: WorldSubnet[] = [];
  /** Subnet name → datagrams in arrival order. */
  readonly arrivals = new Map<string, Arrival[]>();
  /** Subnet name → TCP connections (source, time). */
  readonly connections = new Map<string, { source: string; at: number }[]>();
  /** Every kernel route the VPC router applied: subnet (or `natN`), target, time. */
  readonly applied: { subnet: string; via: string; at: number }[] = [];
  propagationDelayMs: number;
  /** Things that went wrong in the world itself (an agent died), for failure messages. */
  readonly problems: string[] = [];
  readonly #options: NetWorldOptions;
  readonly #namespaces: string[] = [];
  readonly #agents = new Set<Agent>();
  readonly #bridges: { socket: string; port: number }[] = [];
  readonly #routerArgs = new Map<string, readonly string[]>();
  #ec2Server: Ec2Server | undefined;
  #dir = "";
  #caFile = "";
  #vpcRouter: Promise<void> | undefined;
  /** The default route the VPC router last applied, by namespace. */
  readonly #kernelRoutes = new Map<string, string>();
  #closed = false;
  #egressChecks = 0;
  #withSquid = true;
  readonly #unload = () => this.#teardownSync();

  private constructor(options: NetWorldOptions) {
    this.#options = options;
    this.prefix = newPrefix();
    this.region = options.region ?? "us-east-1";
    this.clusterId = options.clusterId ?? "squid";
    this.propagationDelayMs = options.propagationDelayMs ?? 0;
    this.sim = new Ec2Sim();
    this.vpcId = this.sim.addVpc({ cidrBlock: "198.19.0.0/16" });
    // The managed NAT gateway (its namespace is built with the world), known to EC2 as an
    // available public gateway of the VPC, so --fallback-nat-gateway accepts it.
    this.natGatewayId = this.sim.addNatGateway({ vpcId: this.vpcId });
  }

  /** Builds the world (sweeping stale ones first); tears down what was built if it fails. */
  static async build(options: NetWorldOptions = {}): Promise<NetWorld> {
    await sweepStale();
    const world = new NetWorld(options);
    globalThis.addEventListener("unload", world.#unload);
    try {
      await world.#build();
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  ns(role: string): string {
    return `${this.prefix}${role}`;
  }

  get ec2Hostname(): string {
    return `ec2.${this.region}.amazonaws.com`;
  }

  nat(instanceId: string): WorldNat {
    const nat = this.nats.find((n) => n.instanceId === instanceId);
    if (!nat) throw new Error(`No NAT "${instanceId}" in the namespace world`);
    return nat;
  }

  /** The NAT (instance id), `gateway`, or the address, for a source address after NAT. */
  carrierOf(source: string): string {
    if (source === GATEWAY_PUBLIC_IP) return "gateway";
    return this.nats.find((n) => n.publicIp === source)?.instanceId ?? source;
  }

  async #build(): Promise<void> {
    this.#dir = await Deno.makeTempDir({ prefix: "aws-nat-router-netns-" });
    const ca = await makeTestCa(this.#dir, this.ec2Hostname);
    this.#caFile = ca.caFile;
    this.#ec2Server = new Ec2Server(this.sim);
    const ec2Socket = this.#relayTo(this.#ec2Server.endpoint, "ec2");

    // NAT instances in EC2, oldest first, each with its metadata service.
    const natsPerZone = this.#options.natsPerZone ?? [2, 1];
    const zones = natsPerZone.map((_, z) => `${this.region}${String.fromCharCode(97 + z)}`);
    const firstLaunch = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
    const sockets = new Map<number, string>();
    for (const [z, count] of natsPerZone.entries()) {
      for (let i = 0; i < count; i++) {
        const index = this.nats.length + 1;
        const zone = zones[z]!;
        const privateIp = `198.19.0.${10 + index}`;
        const publicIp = `198.18.1.${index}`;
        const instanceId = this.sim.addInstance({
          vpcId: this.vpcId,
          zone,
          privateIp,
          publicIp,
          launchTime: firstLaunch + index * 60_000,
          // Spot instances, each in its zone's Auto Scaling group, as many fleets run them:
          // their routers read both planned-departure notices every second.
          tags: {
            [TAG_CLUSTER_ID]: this.clusterId,
            [TAG_ZONE]: zone,
            "aws:autoscaling:groupName": `nat-${zone}`,
          },
          sourceDestCheck: this.#options.sourceDestCheck ?? false,
          interfaces: this.#options.natInterfaces ?? 1,
        });
        const imds = new ImdsServer({ instanceId, zone, region: this.region, privateIp });
        imds.lifeCycle = "spot";
        imds.lifecycleState = "InService";
        sockets.set(index, this.#relayTo(imds.endpoint, `imds${index}`));
        const ns = this.ns(`nat${index}`);
        this.nats.push({
          instanceId,
          index,
          ns,
          zone,
          privateIp,
          publicIp,
          imds,
          bootedAt: Date.now(),
          router: undefined,
          squid: undefined,
        });
      }
    }
    await this.#agent(undefined, { bridges: this.#bridges });

    // The internet and the VPC bridge.
    const inet = await this.#addNamespace("inet");
    const vpc = await this.#addNamespace("vpc");
    await this.#ip(inet, "link add br0 type bridge");
    await this.#ip(inet, `addr add ${SINK_ADDRESS}/16 dev br0`);
    await this.#ip(inet, `addr add ${EC2_ADDRESS}/32 dev lo`);
    await this.#ip(inet, "link set br0 up");
    await this.#ip(vpc, "link add br0 type bridge");
    await this.#ip(vpc, "link set br0 up");

    for (const nat of this.nats) {
      await this.#addNamespace(`nat${nat.index}`, [`${EC2_ADDRESS} ${this.ec2Hostname}`]);
      await this.#forwarder(nat.ns, `n${nat.index}`, nat.privateIp, nat.publicIp);
      await this.#ip(nat.ns, "addr add 169.254.169.254/32 dev lo");
      await this.#agent(nat.ns, {
        relays: [{ hostname: "169.254.169.254", port: 80, socket: sockets.get(nat.index)! }],
      });
    }
    // The managed NAT gateway: forwards and masquerades, nothing else.
    const gw = await this.#addNamespace("gw");
    await this.#forwarder(gw, "gw", GATEWAY_PRIVATE_IP, GATEWAY_PUBLIC_IP);

    // The EC2 endpoint over TLS, in the internet; the sink.
    await this.#agent(inet, {
      relays: [{
        hostname: EC2_ADDRESS,
        port: 443,
        socket: ec2Socket,
        certFile: ca.certFile,
        keyFile: ca.keyFile,
      }],
    });
    await this.#agent(inet, { sink: { udpPort: UDP_PORT, tcpPort: TCP_PORT } }, (line) => {
      const [kind, subnet = "", a = "", b = "", c = ""] = line.split(" ");
      if (kind === "u") {
        this.arrivals.get(subnet)?.push({ seq: Number(a), source: b, at: Number(c) });
      } else if (kind === "t") {
        // A subnet's client, or a label of `egressFrom` (its list made on first sight).
        const list = this.connections.get(subnet) ?? [];
        this.connections.set(subnet, list);
        list.push({ source: a, at: Number(b) });
      }
    });

    // Private subnets, each with its own tagged route table (no default route yet).
    const perZone = this.#options.subnetsPerZone ?? 2;
    let s = 0;
    for (const zone of zones) {
      for (let i = 0; i < perZone; i++) {
        s += 1;
        const name = `sub${s}`;
        const subnetId = this.sim.addSubnet(this.vpcId, zone);
        const routeTableId = this.sim.addRouteTable({
          vpcId: this.vpcId,
          subnetIds: [subnetId],
          // Spot instances, each in its zone's Auto Scaling group, as many fleets run them:
          // their routers read both planned-departure notices every second.
          tags: {
            [TAG_CLUSTER_ID]: this.clusterId,
            [TAG_ZONE]: zone,
            "aws:autoscaling:groupName": `nat-${zone}`,
          },
        });
        const ip = `198.19.${s}.10`;
        const ns = await this.#addNamespace(name);
        await this.#veth(ns, "eth0", vpc, `s${s}`);
        await this.#ip(ns, `addr add ${ip}/16 dev eth0`);
        await this.#ip(ns, "link set eth0 up");
        await this.#ip(ns, "route replace blackhole default");
        this.subnets.push({ name, subnetId, routeTableId, ns, zone, ip });
        this.arrivals.set(name, []);
        this.connections.set(name, []);
      }
    }
    this.#vpcRouter = this.#runVpcRouter();
    for (const subnet of this.subnets) {
      await this.#agent(subnet.ns, {
        client: {
          subnet: subnet.name,
          host: SINK_ADDRESS,
          udpPort: UDP_PORT,
          tcpPort: TCP_PORT,
          everyMs: this.#options.everyMs ?? 10,
          tcpEveryMs: 200,
        },
      });
    }
  }

  // ---- Routers ----

  /**
   * Starts the router of every NAT (or of `only`) inside its namespace, exactly as shipped:
   * `deno run -P=default main.ts <args>`, trusting the test CA through `DENO_CERT`. With
   * `squid` (default true) the squid stand-in listens on the health port first.
   */
  async startRouters(
    args: readonly string[],
    options: {
      readonly only?: readonly string[];
      readonly squid?: boolean;
      /** Start the next router only once this one printed a matching line. */
      readonly oneByOne?: RegExp;
    } = {},
  ): Promise<void> {
    for (const nat of this.nats) {
      if (options.only && !options.only.includes(nat.instanceId)) continue;
      this.#routerArgs.set(nat.instanceId, args);
      this.#withSquid = options.squid ?? true;
      if (this.#withSquid) await this.startSquid(nat.instanceId);
      this.#startRouter(nat, args);
      if (options.oneByOne) await nat.router!.waitFor(options.oneByOne, 30_000);
    }
  }

  async startSquid(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    if (nat.squid) return;
    nat.squid = await this.#agent(nat.ns, { squidPort: HEALTH_PORT });
  }

  /** The squid stand-in stops: the health port refuses (the NAT still forwards). */
  async stopSquid(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    if (nat.squid) await this.#stopAgent(nat.squid);
    nat.squid = undefined;
  }

  #startRouter(nat: WorldNat, args: readonly string[]): void {
    nat.router = this.#program(nat, `router-${nat.index}`, ["--ec2-election", ...args]);
  }

  /**
   * The program inside the NAT's namespace, exactly as shipped: `deno run -P=default main.ts
   * <args>` with the VPC and cluster, trusting the test CA through `DENO_CERT`. `args` may
   * start with a subcommand (`drain`, `undrain`).
   */
  #program(nat: WorldNat, name: string, args: readonly string[]): RouterProcess {
    const home = Deno.env.get("HOME") ?? "/root";
    const subcommand = args[0] !== undefined && !args[0].startsWith("-") ? [args[0]] : [];
    return startRouter({
      name,
      args: [],
      // In the router's own mount namespace (ip netns exec makes one, private), ip_forward is
      // bind-mounted where the shipped set may read it: Deno 2 refuses any /proc path without
      // --allow-all. A systemd unit does the same with BindReadOnlyPaths=.
      command: [
        "ip",
        "netns",
        "exec",
        nat.ns,
        "sh",
        "-c",
        "mount -t tmpfs tmpfs /run && mkdir /run/aws-nat-router && " +
        "touch /run/aws-nat-router/ip_forward && " +
        "mount --bind -o ro /proc/sys/net/ipv4/ip_forward /run/aws-nat-router/ip_forward && " +
        'exec "$0" "$@"',
        Deno.execPath(),
        "run",
        "-P=default",
        "main.ts",
        ...subcommand,
        "--vpc-id",
        this.vpcId,
        "--cluster-id",
        this.clusterId,
        ...args.slice(subcommand.length),
      ],
      env: {
        HOME: home,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
        DENO_CERT: this.#caFile,
        AWS_NAT_ROUTER_IP_FORWARD_PATH: "/run/aws-nat-router/ip_forward",
        AWS_NAT_ROUTER_BOOTED_AT: new Date(nat.bootedAt).toISOString(),
        NO_COLOR: "1",
        PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      },
      ...(this.#options.echo ? { echo: true } : {}),
    });
  }

  /**
   * Runs `aws-nat-router <args>` to completion on the NAT, as an operator (or a systemd unit)
   * would there: e.g. `["drain"]`. The process's exit code and every line it printed.
   */
  async runOnNat(
    instanceId: string,
    args: readonly string[],
  ): Promise<{ code: number; lines: readonly string[] }> {
    const nat = this.nat(instanceId);
    const process = this.#program(nat, `${args[0] ?? "run"}-${nat.index}`, args);
    const code = await process.exited;
    return { code, lines: process.lines };
  }

  /** `systemctl restart aws-nat-router`: SIGTERM, wait for exit 0, start it again. */
  async restartRouter(instanceId: string): Promise<number> {
    const nat = this.nat(instanceId);
    const code = await nat.router?.stop() ?? 0;
    this.#startRouter(nat, this.#routerArgs.get(instanceId) ?? []);
    return code;
  }

  /**
   * The instance shuts down as systemd does it with the shipped units: the drain unit's
   * ExecStop (`aws-nat-router drain`) first, then the router stops (SIGTERM), then the
   * machine goes away (interfaces down, processes gone). Returns the drain's outcome.
   */
  async shutdown(instanceId: string): Promise<{ code: number; lines: readonly string[] }> {
    const drained = await this.runOnNat(instanceId, ["drain"]);
    const nat = this.nat(instanceId);
    await nat.router?.stop();
    nat.router = undefined;
    await this.crash(instanceId);
    return drained;
  }

  /** The NAT's router is killed (stopped, crash-looping); its squid still answers. */
  async stopRouter(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    await nat.router?.kill();
    nat.router = undefined;
  }

  /** Starts the NAT's router again (after `stopRouter`), with the arguments it last ran with. */
  startRouterAgain(instanceId: string): void {
    const nat = this.nat(instanceId);
    if (nat.router) throw new Error(`The router of ${instanceId} is still running`);
    this.#startRouter(nat, this.#routerArgs.get(instanceId) ?? []);
  }

  /** Every router, by NAT instance id. */
  routers(): RouterProcess[] {
    return this.nats.flatMap((n) => n.router ? [n.router] : []);
  }

  /** Every call the EC2 endpoint received, in order (action, parameters, time, outcome). */
  get ec2Calls(): readonly Ec2Call[] {
    return this.#ec2Server?.calls ?? [];
  }

  /**
   * Every EC2 call the NAT's router makes (signed with its instance role's key) gets `kind`
   * (`stall`: the head of the answer, then nothing), until `clearEc2Faults()`.
   */
  ec2Fault(instanceId: string, kind: Ec2FaultKind): void {
    this.#ec2Server?.inject(kind, {
      accessKeyId: this.nat(instanceId).imds.credentials.accessKeyId,
      count: Number.MAX_SAFE_INTEGER,
    });
  }

  clearEc2Faults(): void {
    this.#ec2Server?.clearFaults();
  }

  /**
   * The NAT's own egress: opens a TCP connection from inside its namespace to the internet's
   * sink and returns the source the sink saw (its public IP when it goes out directly), or
   * `undefined` when nothing arrived within `timeoutMs`.
   */
  async egressFrom(instanceId: string, timeoutMs = 3_000): Promise<string | undefined> {
    const nat = this.nat(instanceId);
    const label = `egress-nat${nat.index}-${++this.#egressChecks}`;
    const seconds = String(Math.ceil(timeoutMs / 1000));
    await run("ip", [
      "netns",
      "exec",
      nat.ns,
      "timeout",
      seconds,
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${SINK_ADDRESS}/${TCP_PORT} && echo ${label} >&3`,
    ]);
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      const seen = this.connections.get(label)?.[0];
      if (seen) return seen.source;
      await sleep(20);
    }
    return undefined;
  }

  /**
   * The Prometheus text a router serves on `port` inside its NAT (`--metrics-listen
   * 0.0.0.0:<port>`, the address the shipped set allows), or `undefined` when it does not answer.
   */
  async scrapeMetrics(instanceId: string, port = 9100): Promise<string | undefined> {
    const result = await run("ip", [
      "netns",
      "exec",
      this.nat(instanceId).ns,
      "curl",
      "-sf",
      "--max-time",
      "2",
      `http://127.0.0.1:${port}/metrics`,
    ]);
    return result.code === 0 ? result.stdout : undefined;
  }

  // ---- Faults ----

  /** The NAT dies: its processes are killed, its interfaces go down. */
  async crash(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    await this.#ip(nat.ns, "link set in0 down");
    await this.#ip(nat.ns, "link set out0 down");
    await nat.router?.kill();
    nat.router = undefined;
    if (nat.squid) await this.#stopAgent(nat.squid);
    nat.squid = undefined;
  }

  /** The crashed NAT boots again: links up, squid and its router start. */
  async boot(instanceId: string, options: { readonly squid?: boolean } = {}): Promise<void> {
    const nat = this.nat(instanceId);
    nat.bootedAt = Date.now();
    await this.#ip(nat.ns, "link set in0 up");
    await this.#ip(nat.ns, "link set out0 up");
    await this.#outsideDefault(nat.ns);
    this.#kernelRoutes.delete(nat.ns); // the links came back without the routes
    if (options.squid ?? this.#withSquid) await this.startSquid(instanceId);
    this.#startRouter(nat, this.#routerArgs.get(instanceId) ?? []);
  }

  /** The NAT hangs: every packet is dropped (links stay up) and its processes freeze. */
  async hang(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    await this.#fault(
      nat,
      "chain input { type filter hook input priority -300; policy drop; }\n" +
        "chain forward { type filter hook forward priority -300; policy drop; }\n" +
        "chain output { type filter hook output priority -300; policy drop; }",
    );
    await this.#signalAll(nat.ns, "SIGSTOP");
  }

  /** Ends a hang, a loss or a partition: drops the fault table, thaws the processes. */
  async heal(instanceId: string): Promise<void> {
    const nat = this.nat(instanceId);
    await this.#signalAll(nat.ns, "SIGCONT");
    await run("ip", ["netns", "exec", nat.ns, "nft", "delete", "table", "inet", this.#faultTable]);
  }

  /** `net.ipv4.ip_forward` of the NAT (0 stops forwarding; squid still answers). */
  async setForwarding(instanceId: string, on: boolean): Promise<void> {
    await this.#sysctl(this.nat(instanceId).ns, `net.ipv4.ip_forward=${on ? 1 : 0}`);
  }

  /** The NAT's outside link goes down (or up again); squid still answers inside. */
  async setOutsideLink(instanceId: string, up: boolean): Promise<void> {
    const nat = this.nat(instanceId);
    await this.#ip(nat.ns, `link set out0 ${up ? "up" : "down"}`);
    if (!up) return;
    await this.#outsideDefault(nat.ns);
    this.#kernelRoutes.delete(nat.ns);
  }

  /** `percent` % of the packets to the NAT's health port are dropped at random. */
  async loseHealthPackets(instanceId: string, percent: number): Promise<void> {
    await this.#fault(
      this.nat(instanceId),
      "chain input { type filter hook input priority -300; policy accept;\n" +
        `  tcp dport ${HEALTH_PORT} numgen random mod 100 < ${percent} drop\n}`,
    );
  }

  /**
   * `from` can no longer reach `to`'s health port (a security-group mistake); with `both`, the
   * other way too. Heal with `heal()` on each.
   */
  async partition(from: string, to: string, both = false): Promise<void> {
    const pairs = both ? [[from, to], [to, from]] : [[from, to]];
    for (const [a, b] of pairs) {
      await this.#fault(
        this.nat(b!),
        "chain input { type filter hook input priority -300; policy accept;\n" +
          `  ip saddr ${this.nat(a!).privateIp} tcp dport ${HEALTH_PORT} drop\n}`,
      );
    }
  }

  get #faultTable(): string {
    return `${this.prefix.replaceAll("-", "_")}fault`;
  }

  async #fault(nat: WorldNat, chains: string): Promise<void> {
    await run("ip", ["netns", "exec", nat.ns, "nft", "delete", "table", "inet", this.#faultTable]);
    await nft(nat.ns, `table inet ${this.#faultTable} {\n${chains}\n}\n`);
  }

  async #signalAll(ns: string, signal: Deno.Signal): Promise<void> {
    const pids = (await run("ip", ["netns", "pids", ns])).stdout.split("\n").filter((p) => p);
    for (const pid of pids) {
      try {
        Deno.kill(Number(pid), signal);
      } catch { /* gone */ }
    }
  }

  // ---- What the sink saw ----

  /** The carrier (NAT id or `gateway`) of the subnet's latest datagram, if any. */
  carrier(subnet: string): string | undefined {
    const list = this.arrivals.get(subnet) ?? [];
    const last = list[list.length - 1];
    return last && this.carrierOf(last.source);
  }

  /** Carrier of each subnet's latest datagram, by subnet name. */
  carriers(): Record<string, string | undefined> {
    return Object.fromEntries(this.subnets.map((s) => [s.name, this.carrier(s.name)]));
  }

  /**
   * Since `at`: the first datagram through a carrier other than `from` (blackout = its
   * arrival − `at`), and the datagrams lost on the way (sequence numbers never delivered
   * between the last one before `at` and that first one).
   */
  blackout(
    subnet: string,
    at: number,
    from: string,
  ): { ms: number; lost: number; to: string } | undefined {
    const list = this.arrivals.get(subnet) ?? [];
    const first = list.find((a) => a.at >= at && this.carrierOf(a.source) !== from);
    if (!first) return undefined;
    const before = list.filter((a) => a.at < at).at(-1);
    const firstSeq = before ? before.seq + 1 : first.seq;
    const delivered = new Set(
      list.filter((a) => a.seq >= firstSeq && a.seq < first.seq).map((a) => a.seq),
    );
    return {
      ms: first.at - at,
      lost: first.seq - firstSeq - delivered.size,
      to: this.carrierOf(first.source),
    };
  }

  /** Waits until `check` holds, polling every 20 ms; throws naming `what` after `timeoutMs`. */
  async waitUntil(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    while (!check()) {
      if (Date.now() - started > timeoutMs) {
        throw new Error(
          `Timed out after ${timeoutMs}ms waiting until ${what}; carriers: ${
            JSON.stringify(this.carriers())
          }; problems: ${this.problems.join("; ") || "none"}; routers:\n${
            this.routers().map((r) => `${r.name}: ${r.lines.slice(-6).join("\n  ")}`).join("\n")
          }`,
        );
      }
      await sleep(20);
    }
  }

  // ---- The VPC router ----

  /**
   * The kernel default route the effective 0.0.0.0/0 route of `routeTableId` gives a host in
   * the VPC: `default via <ip>` (a NAT instance, the NAT gateway), `default via <sink> dev out0
   * onlink` (an internet gateway, for a NAT's own subnet), or `blackhole default` (no route, a
   * blackhole route, a target whose interface still has source/dest check on, or `self`: a
   * NAT routed to itself loops its own packets).
   */
  #desiredRoute(routeTableId: string, self?: string): string {
    const route = this.sim.effectiveRoute(routeTableId, "0.0.0.0/0");
    if (!route || this.sim.routeState(route) === "blackhole") return "blackhole default";
    if (route.natGatewayId === this.natGatewayId) return `default via ${GATEWAY_PRIVATE_IP}`;
    if (route.gatewayId?.startsWith("igw-")) {
      return self !== undefined
        ? `default via ${SINK_ADDRESS} dev out0 onlink`
        : "blackhole default";
    }
    const found = route.networkInterfaceId !== undefined
      ? this.sim.networkInterface(route.networkInterfaceId)
      : undefined;
    const instanceId = route.instanceId ?? found?.instance.instanceId;
    if (instanceId === undefined || instanceId === self) return "blackhole default";
    if (found?.networkInterface.sourceDestCheck) return "blackhole default";
    const ip = this.sim.instance(instanceId)?.privateIp;
    return ip ? `default via ${ip}` : "blackhole default";
  }

  /**
   * The route table a NAT instance's own subnet uses: its explicit association, else the
   * VPC's main table; `undefined` when the simulated VPC has neither (the NAT then keeps the
   * internet gateway route it was built with).
   */
  #natRouteTable(nat: WorldNat): string | undefined {
    const subnetId = this.sim.instance(nat.instanceId)?.subnetId;
    const tables = this.sim.routeTables().filter((t) => t.vpcId === this.vpcId);
    const explicit = tables.find((t) => t.associations.some((a) => a.subnetId === subnetId));
    return (explicit ?? tables.find((t) => t.associations.some((a) => a.main)))?.routeTableId;
  }

  /** Every host whose default route the VPC router keeps: name, namespace, route wanted. */
  #routedHosts(): { name: string; ns: string; route: string }[] {
    const hosts = this.subnets.map((s) => ({
      name: s.name,
      ns: s.ns,
      route: this.#desiredRoute(s.routeTableId),
    }));
    for (const nat of this.nats) {
      const table = this.#natRouteTable(nat);
      if (table === undefined) continue;
      hosts.push({
        name: `nat${nat.index}`,
        ns: nat.ns,
        route: this.#desiredRoute(table, nat.instanceId),
      });
    }
    return hosts;
  }

  /**
   * Applies the simulated route tables to the kernels, every 10 ms, until close: each private
   * subnet's default route, and each NAT's own when its subnet has a route table.
   */
  async #runVpcRouter(): Promise<void> {
    const current = this.#kernelRoutes;
    const pending = new Map<string, { ns: string; route: string; due: number }>();
    while (!this.#closed) {
      const now = Date.now();
      const names = new Map<string, string>();
      for (const { name, ns, route } of this.#routedHosts()) {
        names.set(ns, name);
        const want = pending.get(ns);
        if (want?.route !== route && current.get(ns) !== route) {
          pending.set(ns, { ns, route, due: now + this.propagationDelayMs });
        } else if (want && current.get(ns) === route) pending.delete(ns);
      }
      for (const [ns, { route, due }] of pending) {
        if (due > now) continue;
        const result = await run("ip", ["-n", ns, "route", "replace", ...route.split(" ")]);
        if (result.code === 0 || this.#closed) {
          current.set(ns, route);
          pending.delete(ns);
          this.applied.push({ subnet: names.get(ns) ?? ns, via: route, at: Date.now() });
        }
      }
      await sleep(10);
    }
  }

  // ---- Building blocks ----

  async #ip(ns: string, command: string): Promise<void> {
    await must("ip", ["-n", ns, ...command.split(" ")]);
  }

  /** The default route of a NAT-like namespace through its outside link (the internet). */
  async #outsideDefault(ns: string): Promise<void> {
    await this.#ip(ns, `route replace default via ${SINK_ADDRESS} dev out0 onlink`);
  }

  async #sysctl(ns: string, setting: string): Promise<void> {
    await must("ip", ["netns", "exec", ns, "sysctl", "-qw", setting]);
  }

  async #addNamespace(role: string, hosts: readonly string[] = []): Promise<string> {
    const ns = this.ns(role);
    await must("ip", ["netns", "add", ns]);
    this.#namespaces.push(ns);
    // Name resolution stays inside: hosts file only, no reachable DNS server.
    await Deno.mkdir(`/etc/netns/${ns}`, { recursive: true });
    await Deno.writeTextFile(
      `/etc/netns/${ns}/hosts`,
      ["127.0.0.1 localhost", ...hosts].join("\n") + "\n",
    );
    await Deno.writeTextFile(`/etc/netns/${ns}/resolv.conf`, "nameserver 127.0.0.1\n");
    await this.#ip(ns, "link set lo up");
    return ns;
  }

  /** A veth pair: `name` in `ns`, `peer` in `bridgeNs` on its `br0`. */
  async #veth(ns: string, name: string, bridgeNs: string, peer: string): Promise<void> {
    await must("ip", [
      "link",
      "add",
      name,
      "netns",
      ns,
      "type",
      "veth",
      "peer",
      "name",
      peer,
      "netns",
      bridgeNs,
    ]);
    await this.#ip(bridgeNs, `link set ${peer} master br0`);
    await this.#ip(bridgeNs, `link set ${peer} up`);
  }

  /** A NAT-like namespace: `in0` on the VPC bridge, `out0` on the internet, masquerade. */
  async #forwarder(ns: string, tag: string, privateIp: string, publicIp: string): Promise<void> {
    await this.#veth(ns, "in0", this.ns("vpc"), `${tag}i`);
    await this.#veth(ns, "out0", this.ns("inet"), `${tag}o`);
    await this.#ip(ns, `addr add ${privateIp}/16 dev in0`);
    // A host address: the internet (the sink, the EC2 endpoint) is reached only through the
    // default route, so a NAT's own egress follows its subnet's route table when it has one.
    await this.#ip(ns, `addr add ${publicIp}/32 dev out0`);
    await this.#ip(ns, "link set in0 up");
    await this.#ip(ns, "link set out0 up");
    await this.#outsideDefault(ns);
    await this.#sysctl(ns, "net.ipv4.ip_forward=1");
    const table = `${this.prefix.replaceAll("-", "_")}nat`;
    await nft(
      ns,
      `table ip ${table} {\n  chain postrouting {\n` +
        `    type nat hook postrouting priority 100; policy accept;\n` +
        `    oifname "out0" masquerade\n  }\n}\n`,
    );
  }

  /** A Unix socket path (in the world's directory) that `#bridge` pipes to `endpoint`. */
  #relayTo(endpoint: string, name: string): string {
    const path = `${this.#dir}/${name}.sock`;
    this.#bridges.push({ socket: path, port: Number(new URL(endpoint).port) });
    return path;
  }

  /** Runs `agent.ts` inside `ns` (the host's namespace for `undefined`); waits for `ready`. */
  async #agent(
    ns: string | undefined,
    spec: AgentSpec,
    onLine: (line: string) => void = () => {},
  ): Promise<Agent> {
    const sockets = [...(spec.relays ?? []), ...(spec.bridges ?? [])].map((r) => r.socket);
    const net = ns === undefined
      ? ["127.0.0.1"]
      : ["0.0.0.0", "198.18.0.0/15", "198.19.0.0/16", "169.254.169.254"];
    const deno = [
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-prompt",
      "--unstable-net",
      `--allow-net=${[...net, ...sockets.map((s) => `unix:${s}`)].join(",")}`,
      `--allow-read=${this.#dir}`,
      `--allow-write=${this.#dir}`,
      AGENT,
      JSON.stringify(spec),
    ];
    const [program, ...args] = ns === undefined ? deno : ["ip", "netns", "exec", ns, ...deno];
    const child = new Deno.Command(program!, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    let markReady: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failed = reject;
    });
    const errors: string[] = [];
    const pumps = Promise.all([
      eachLine(child.stdout, (line) => {
        if (line === "ready") markReady();
        else onLine(line);
      }),
      eachLine(child.stderr, (line) => errors.push(line)),
    ]);
    const exited = Promise.all([child.status, pumps]).then(([status]) => {
      if (!this.#closed && this.#agents.has(agent)) {
        this.problems.push(`agent in ${ns ?? "host"} exited ${status.code}: ${errors.join(" | ")}`);
      }
      failed(new Error(`Agent in ${ns} exited ${status.code}: ${errors.slice(-5).join(" | ")}`));
      return status;
    });
    const agent = { lines, ready, exited, child };
    this.#agents.add(agent);
    await ready;
    return agent;
  }

  async #stopAgent(agent: Agent): Promise<void> {
    try {
      agent.child.kill("SIGKILL");
    } catch { /* gone */ }
    await agent.exited;
    this.#agents.delete(agent);
  }

  /** Stops everything and removes every namespace, file and listener of this world. */
  async close(): Promise<void> {
    this.#closed = true;
    globalThis.removeEventListener("unload", this.#unload);
    await this.#vpcRouter;
    // Thaw first: a stopped process cannot die of SIGTERM.
    for (const nat of this.nats) await this.#signalAll(nat.ns, "SIGCONT");
    await Promise.all(this.routers().map((r) => r.kill()));
    await Promise.all([...this.#agents].map((a) => this.#stopAgent(a)));
    for (const ns of this.#namespaces) await removeNamespace(ns);
    await this.#ec2Server?.close();
    for (const nat of this.nats) await nat.imds.close();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Last resort at exit (a test that never reached `close()`): delete the namespaces. */
  #teardownSync(): void {
    for (const agent of this.#agents) {
      try {
        agent.child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    for (const ns of this.#namespaces) {
      const pids = new Deno.Command("ip", { args: ["netns", "pids", ns], stderr: "null" })
        .outputSync();
      for (const pid of new TextDecoder().decode(pids.stdout).split("\n").filter((p) => p)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* gone */ }
      }
      new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).outputSync();
      try {
        Deno.removeSync(`/etc/netns/${ns}`, { recursive: true });
      } catch { /* gone */ }
    }
  }
}

async function eachLine(stream: ReadableStream<Uint8Array>, sink: (line: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) sink(line);
  }
  if (rest) sink(rest);
}

export { sleep };
