/**
 * @module What Linux says a process costs: resident memory split into anonymous and
 * file-backed (`/proc/PID/status`), its proportional share (`/proc/PID/smaps_rollup`) and
 * CPU time (`/proc/PID/stat`, utime + stime). Parsers are pure (tested on fixed text); the
 * readers return `undefined` once the process is gone.
 */

const KB = 1024;
/** Clock ticks per second of `/proc/PID/stat` (USER_HZ: 100 on every Linux build Deno runs on). */
export const CLOCK_TICKS_PER_S = 100;

/** Memory figures in bytes. */
export interface MemorySample {
  /** VmRSS: anonymous + file-backed + shared memory resident now. */
  readonly rss: number;
  readonly rssAnon: number;
  readonly rssFile: number;
  /** VmHWM: the highest VmRSS so far (the peak). */
  readonly hwm: number;
  /** PSS (shared pages divided among their users); `undefined` when smaps_rollup is unreadable. */
  readonly pss: number | undefined;
}

/** The `name: N kB` fields of a /proc file, in bytes. */
export function parseKbFields(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\w+):\s+(\d+) kB$/.exec(line.trim());
    if (match) fields.set(match[1]!, Number(match[2]) * KB);
  }
  return fields;
}

/** A memory sample from the text of `/proc/PID/status` and `/proc/PID/smaps_rollup`. */
export function parseMemory(status: string, smapsRollup: string | undefined): MemorySample {
  const s = parseKbFields(status);
  const field = (name: string) => {
    const value = s.get(name);
    if (value === undefined) throw new Error(`/proc status has no ${name} field`);
    return value;
  };
  return {
    rss: field("VmRSS"),
    rssAnon: field("RssAnon"),
    rssFile: field("RssFile"),
    hwm: field("VmHWM"),
    pss: smapsRollup === undefined ? undefined : parseKbFields(smapsRollup).get("Pss"),
  };
}

/** CPU seconds (user + system) from the text of `/proc/PID/stat`. */
export function parseCpuSeconds(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) are at 11 and 12 once pid and comm are gone.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot read utime/stime from /proc stat: ${stat.slice(0, 80)}`);
  }
  return (utime + stime) / CLOCK_TICKS_PER_S;
}

/**
 * The text of some /proc files of `pid`, read by `cat`: Deno lets only `--allow-all` read a
 * process's /proc files, and the benchmark runs under its `sim` permission set. `undefined`
 * once the process is gone.
 */
async function catProc(pid: number, files: readonly string[]): Promise<string | undefined> {
  const { success, stdout } = await new Deno.Command("cat", {
    args: files.map((file) => `/proc/${pid}/${file}`),
    stdout: "piped",
    stderr: "null",
  }).output();
  return success ? new TextDecoder().decode(stdout) : undefined;
}

/** Reads a process's memory now; `undefined` when it has exited. */
export async function readMemory(pid: number): Promise<MemorySample | undefined> {
  const text = await catProc(pid, ["status", "smaps_rollup"]);
  if (text === undefined || !text.includes("VmRSS")) return undefined; // gone or a zombie
  const rollup = text.indexOf("[rollup]");
  return parseMemory(
    rollup < 0 ? text : text.slice(0, text.lastIndexOf("\n", rollup)),
    rollup < 0 ? undefined : text.slice(rollup),
  );
}

/** Reads a process's CPU seconds so far; `undefined` when it has exited. */
export async function readCpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await catProc(pid, ["stat"]);
  return stat === undefined ? undefined : parseCpuSeconds(stat);
}

/** Bytes → MB (MiB) with one decimal. */
export function mb(bytes: number): number {
  return Math.round(bytes / (KB * KB) * 10) / 10;
}

/** A memory sample in MB. */
export interface MemoryMb {
  readonly rssMb: number;
  readonly rssAnonMb: number;
  readonly rssFileMb: number;
  readonly peakRssMb: number;
  readonly pssMb: number | undefined;
}

/** A memory sample in MB, for JSON and tables. */
export function memoryMb(sample: MemorySample): MemoryMb {
  return {
    rssMb: mb(sample.rss),
    rssAnonMb: mb(sample.rssAnon),
    rssFileMb: mb(sample.rssFile),
    peakRssMb: mb(sample.hwm),
    pssMb: sample.pss === undefined ? undefined : mb(sample.pss),
  };
}

/**
 * Samples a process every `everyMs` until `until` resolves or it exits: the last sample and
 * the highest anonymous RSS seen (VmHWM only tracks the total).
 */
export async function sampleUntil(
  pid: number,
  until: Promise<unknown>,
  everyMs: number,
): Promise<{ last: MemorySample | undefined; peakAnon: number; samples: number }> {
  let done = false;
  void until.finally(() => done = true).catch(() => {});
  let last: MemorySample | undefined;
  let peakAnon = 0;
  let samples = 0;
  while (!done) {
    const sample = await readMemory(pid);
    if (sample === undefined) break;
    last = sample;
    samples++;
    peakAnon = Math.max(peakAnon, sample.rssAnon);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return { last, peakAnon, samples };
}
