// deno-lint-ignore-file no-console
/**
 * @module The only writer of log lines. One line per decision: a timestamp, a level, a
 * constant event name, then `key=value` fields with stable keys, e.g.
 * `2026-11-21T10:00:00.000Z INFO route.replaced route_table_id=rtb-1 from=i-a to=i-b`.
 * Values with spaces, quotes or `=` are quoted. Lines go to stderr (journald keeps them).
 */

import type { LogLevel } from "../model.ts";

export type LogValue = string | number | boolean | undefined | null;
export type LogFields = Readonly<Record<string, LogValue>>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where a finished line goes; stderr by default. */
  readonly write?: (line: string) => void;
  /** Clock for the timestamp; `Date.now` by default. */
  readonly now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Formats one value: bare when safe, JSON-quoted otherwise; `undefined`/`null` as `-`. */
export function formatValue(value: LogValue): string {
  if (value === undefined || value === null) return "-";
  const text = String(value);
  const unsafe = [...text].some((c) =>
    c <= " " || c === "\u007f" || c === '"' || c === "=" || c === "\\"
  );
  if (text === "" || unsafe) {
    return JSON.stringify(text);
  }
  return text;
}

/** Formats one log line without the trailing newline. */
export function formatLine(
  time: number,
  level: LogLevel,
  event: string,
  fields?: LogFields,
): string {
  let line = `${new Date(time).toISOString()} ${level.toUpperCase()} ${event}`;
  for (const [key, value] of Object.entries(fields ?? {})) line += ` ${key}=${formatValue(value)}`;
  return line;
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const threshold = RANK[options.level];
  const at = (level: LogLevel) => (event: string, fields?: LogFields) => {
    if (RANK[level] >= threshold) write(formatLine(now(), level, event, fields));
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    enabled: (level) => RANK[level] >= threshold,
  };
}

/** A logger that keeps its lines in memory, for tests. */
export function memoryLogger(level: LogLevel = "debug"): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level, write: (line) => lines.push(line), now: () => 0 }), {
    lines,
  });
}
