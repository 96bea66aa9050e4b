/**
 * @module Runs the real program (`main.ts`) as a subprocess, exactly as the binary runs:
 * `deno run -P` with the audited permission set from deno.json, plus only the loopback
 * range the simulated VPC lives on. Collects its log lines and lets a test wait for one.
 */
import { V8_FLAGS } from "../scripts/compile.ts";

const ROOT = new URL("../", import.meta.url);
export const MAIN = new URL("main.ts", ROOT).pathname;

/** Environment a router needs to reach the simulated VPC, and nothing of the host's. */
export function simEnv(
  endpoints: { ec2: string; imds?: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  const home = Deno.env.get("HOME") ?? "/root";
  return {
    HOME: home,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
    NO_COLOR: "1",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_EC2: endpoints.ec2,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoints.imds ?? "http://127.0.0.1:9",
    ...extra,
  };
}

/**
 * The `deno run` arguments for the program under its audited set plus `net`, and any extra
 * permission flags (e.g. `--allow-read=<temp file>`; a flag replaces the set's own list).
 */
export function runArgs(
  net: string | undefined,
  args: readonly string[],
  flags: readonly string[] = [],
): string[] {
  return [
    "run",
    "-P",
    ...(net ? [`--allow-net=${net}`] : []),
    ...flags,
    "--no-prompt",
    "--quiet",
    `--v8-flags=${V8_FLAGS.join(",")}`, // as the release binary runs
    MAIN,
    ...args,
  ];
}

export interface RouterProcess {
  readonly name: string;
  /** The process id (the benchmark reads its /proc files). */
  readonly pid: number;
  /** Every stderr and stdout line so far (log lines are on stderr). */
  readonly lines: readonly string[];
  readonly stdout: readonly string[];
  /** Resolves with the first line (existing or future) matching, or rejects after `timeoutMs`. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<string>;
  /** Lines matching, so far. */
  grep(match: RegExp): string[];
  /** Sends `signal` and waits for the exit; resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Kills without a chance to clean up (a crashed node). */
  kill(): Promise<number>;
  readonly exited: Promise<number>;
}

async function pump(stream: ReadableStream<Uint8Array>, sink: (line: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) sink(line);
  }
  if (rest) sink(rest);
}

export function startRouter(options: {
  readonly name?: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  /** Extra net permission; the simulator's loopback range by default. */
  readonly net?: string | undefined;
  /** Extra `deno run` permission flags, e.g. `--allow-read=<temp file>`. */
  readonly flags?: readonly string[];
  /** Echo lines to the test output (debugging). */
  readonly echo?: boolean;
  /**
   * The whole command line instead of `deno run -P …` (e.g. `ip netns exec <ns> deno run
   * -P=default main.ts …` for the namespace world); `args`, `net` and `flags` are then unused.
   */
  readonly command?: readonly string[];
}): RouterProcess {
  const name = options.name ?? "router";
  const net = "net" in options ? options.net : "127.0.0.0/8";
  const [program, ...programArgs] = options.command ??
    [Deno.execPath(), ...runArgs(net, options.args, options.flags)];
  const child = new Deno.Command(program!, {
    args: programArgs,
    env: options.env,
    clearEnv: true,
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const stdout: string[] = [];
  const waiters = new Set<{ match: RegExp; resolve: (line: string) => void }>();
  const sink = (into: string[]) => (line: string) => {
    if (line.includes("experimental feature")) return; // deno's note on config permissions
    into.push(line);
    if (into !== lines) lines.push(line);
    // deno-lint-ignore no-console
    if (options.echo) console.error(`[${name}] ${line}`);
    for (const waiter of waiters) {
      if (waiter.match.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  const pumps = Promise.all([pump(child.stderr, sink(lines)), pump(child.stdout, sink(stdout))]);
  const exited = Promise.all([child.status, pumps]).then(([status]) => status.code);
  let done = false;
  void exited.then(() => done = true);

  return {
    name,
    pid: child.pid,
    lines,
    stdout,
    exited,
    grep: (match) => lines.filter((line) => match.test(line)),
    waitFor(match, timeoutMs = 15_000) {
      const found = lines.find((line) => match.test(line));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `${name}: no line matching ${match} within ${timeoutMs}ms; last lines:\n` +
                lines.slice(-15).join("\n"),
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop(signal = "SIGTERM") {
      if (!done) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
      return await exited;
    },
    async kill() {
      if (!done) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      return await exited;
    },
  };
}

/** Runs the program to completion (e.g. `--once`, bad input) and returns what it printed. */
export async function runRouter(options: {
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly net?: string | undefined;
  /** Extra `deno run` permission flags, e.g. `--allow-read=<temp file>`. */
  readonly flags?: readonly string[];
}): Promise<{ code: number; stderr: string[]; stdout: string[] }> {
  const router = startRouter(options);
  const code = await router.exited;
  return {
    code,
    stderr: router.lines.filter((line) => !router.stdout.includes(line)),
    stdout: [...router.stdout],
  };
}
