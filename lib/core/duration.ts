/**
 * @module Go-style durations (`500ms`, `5s`, `1m30s`, `1.5s`, `2h45m`) for flags and log
 * lines: parsing to whole milliseconds, explaining why a text is not a duration, and
 * formatting milliseconds back to the shortest readable form. Pure.
 *
 * Differences from Go's `time.ParseDuration`, on purpose:
 * - negative durations are rejected (no setting of this program can be negative);
 * - results are whole milliseconds, rounded **up**, so a non-zero duration never becomes
 *   0 ms (`1ns` and `500us` are 1 ms; `1.5ms` is 2 ms) — timers have millisecond resolution;
 * - like Go, a bare `0` is zero and any other bare number is rejected (`5` could mean 5 ms or
 *   5 s; the error asks for a unit).
 */

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
