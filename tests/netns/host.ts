/**
 * @module The host side of the namespace world: whether this machine can build it (Linux,
 * root, `ip netns`, `nft` — installed with apt-get when missing on Debian), running `ip`/`nft`
 * commands, the per-run name prefix, and sweeping namespaces left by a killed run.
 *
 * Every namespace is named `anr<pid>w<n>-<role>`: `<pid>` is the process that built it, so a
 * later run can tell a stale world (its process is gone) from a live one and remove it.
 * Interfaces and nftables tables live inside those namespaces and go with them; the only
 * other thing a world leaves on the host is `/etc/netns/<namespace>/` (hosts, resolv.conf).
 */

/** `w`; `x` was the scheme whose sweep mistook every live world for a stale one. */
const PREFIX_PATTERN = /^anr(\d+)[wx]\d+-/;
let worlds = 0;

/** A fresh prefix for one world, unique on this host while this process lives. */
export function newPrefix(): string {
  worlds += 1;
  return `anr${Deno.pid}w${worlds}-`;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
export async function run(
  command: string,
  args: readonly string[],
  stdin?: string,
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args: [...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(
  command: string,
  args: readonly string[],
  stdin?: string,
): Promise<string> {
  const result = await run(command, args, stdin);
  if (result.code !== 0) {
    throw new Error(
      `Command failed: ${command} ${args.join(" ")}: ${result.stderr.trim() || result.code}`,
    );
  }
  return result.stdout;
}

/** `ip netns exec <ns> <command…>`, throwing on failure. */
export function inNs(
  ns: string,
  command: string,
  args: readonly string[],
  stdin?: string,
): Promise<string> {
  return must("ip", ["netns", "exec", ns, command, ...args], stdin);
}

/** Loads an nftables script into a namespace. */
export function nft(ns: string, script: string): Promise<string> {
  return inNs(ns, "nft", ["-f", "-"], script);
}

async function has(command: string, args: readonly string[]): Promise<boolean> {
  try {
    return (await run(command, args)).code === 0;
  } catch {
    return false; // not installed
  }
}

export type Preflight =
  | { readonly ok: true }
  | { readonly ok: false; readonly missing: string };

let preflight: Promise<Preflight> | undefined;

/**
 * Whether namespaces can be built here; installs nftables with apt-get when it is the only
 * thing missing and this is root on Debian (one line says so). Checked once per process.
 */
export function checkHost(log: (line: string) => void = () => {}): Promise<Preflight> {
  preflight ??= (async (): Promise<Preflight> => {
    if (Deno.build.os !== "linux") {
      return { ok: false, missing: `Linux (this is ${Deno.build.os})` };
    }
    if (Deno.uid() !== 0) return { ok: false, missing: `root (uid is ${Deno.uid()})` };
    if (!(await has("ip", ["netns", "list"]))) {
      return { ok: false, missing: "iproute2 with network namespaces (`ip netns list` failed)" };
    }
    if (!(await has("nft", ["--version"]))) {
      const debian = await Deno.stat("/etc/debian_version").then(() => true, () => false);
      if (!debian) return { ok: false, missing: "nftables (`nft` not found; install nftables)" };
      log("netns: nft not found; installing nftables with apt-get install -y nftables");
      const installed = await run("apt-get", ["install", "-y", "-q", "nftables"]);
      if (installed.code !== 0 || !(await has("nft", ["--version"]))) {
        return {
          ok: false,
          missing: `nftables (apt-get install -y nftables failed: ${
            installed.stderr.trim().split("\n").pop() ?? installed.code
          })`,
        };
      }
    }
    return { ok: true };
  })();
  return preflight;
}

/**
 * Whether a process runs. Not by reading `/proc/<pid>`: Deno refuses any `/proc` path without
 * `--allow-all` (NotCapable), which would make every live world look stale.
 */
async function alive(pid: number): Promise<boolean> {
  return (await run("ps", ["-p", String(pid)])).code === 0;
}

/** Namespace names on this host, as `ip netns list` prints them. */
export async function namespaces(): Promise<string[]> {
  const out = await run("ip", ["netns", "list"]);
  return out.stdout.split("\n").map((line) => line.split(" ")[0] ?? "").filter((name) => name);
}

/** Kills every process in the namespace, deletes it and its `/etc/netns` directory. */
export async function removeNamespace(ns: string): Promise<void> {
  const pids = (await run("ip", ["netns", "pids", ns])).stdout.split("\n").filter((p) => p);
  for (const pid of pids) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch { /* gone already */ }
  }
  await run("ip", ["netns", "delete", ns]);
  await Deno.remove(`/etc/netns/${ns}`, { recursive: true }).catch(() => {});
}

/** Removes namespaces (and their files) built by processes that no longer run. */
export async function sweepStale(): Promise<string[]> {
  const stale: string[] = [];
  for (const ns of await namespaces()) {
    const match = PREFIX_PATTERN.exec(ns);
    if (match === null || Number(match[1]) === Deno.pid) continue;
    if (!(await alive(Number(match[1])))) stale.push(ns);
  }
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}
