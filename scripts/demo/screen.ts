/**
 * @module The demo's terminal screen, as pure functions from the scenario's data
 * (`snapshot.ts`) to lines of text: the live view redrawn on a terminal (`renderLive`), the
 * log lines printed when stdout is not one (`renderIntro`, `renderEvent`, `renderNats`,
 * `renderState`), and the closing summary (`renderSummary`). No I/O and no clock: the same
 * snapshot gives the same lines. Nothing here knows which world the NATs live in; the world names itself
 * in `Snapshot.world`.
 *
 * Every time shown is on the demo's one clock (`[+12.34s]`, since the demo started); a
 * step's own durations are written `t=1.26 s`, counted from its fault (t=0).
 */
import type { DemoEvent, NatView, Snapshot, StepView, Summary, TableView } from "./snapshot.ts";

export interface ScreenSize {
  readonly columns: number;
  readonly rows: number;
}

/** A route table moved this recently is drawn in reverse video (then bold until the step ends). */
export const FRESH_MOVE_MS = 2_000;

const RESET = "\x1b[0m";
const STYLES = {
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
  /** A route that just moved. */
  fresh: "\x1b[1;7;33m",
  /** A route that moved during this step. */
  moved: "\x1b[1;33m",
} as const;
type Style = keyof typeof STYLES;

// ---------------------------------------------------------------------------------------------
// Text helpers

/** `[+12.34s]`: a time on the demo clock, at the start of a log line. */
export function stamp(ms: number): string {
  return `[+${(ms / 1000).toFixed(2).padStart(5)}s]`;
}

/** `+12.34s`: a time on the demo clock, in running text. */
export function clock(ms: number): string {
  return `+${(ms / 1000).toFixed(2)}s`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const short = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Removes ANSI escape sequences. */
export function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/** Columns the text takes on a terminal (escape sequences take none). */
export function visibleWidth(text: string): number {
  return [...plain(text)].length;
}

/** Cuts a line to `columns` visible characters, keeping escape sequences intact. */
export function fit(line: string, columns: number): string {
  if (visibleWidth(line) <= columns) return line;
  let out = "";
  let shown = 0;
  let styled = false;
  for (let i = 0; i < line.length;) {
    // deno-lint-ignore no-control-regex
    const escape = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i));
    if (escape) {
      out += escape[0];
      styled = true;
      i += escape[0].length;
      continue;
    }
    const char = String.fromCodePoint(line.codePointAt(i)!);
    if (shown === columns - 1) {
      out += "…";
      break;
    }
    out += char;
    shown++;
    i += char.length;
  }
  return styled ? out + RESET : out;
}

/** Rows of cells as aligned columns (the last cell is not padded). */
export function columns(rows: readonly (readonly string[])[], indent = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell)));
  }
  return rows.map((row) =>
    indent +
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleWidth(cell))
    ).join("  ").trimEnd()
  );
}

/** Breaks plain text into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Width the log's explanations are wrapped at. */
const LOG_WIDTH = 100;

function painter(ansi: boolean): (text: string, style: Style | undefined) => string {
  return (text, style) => ansi && style && text ? `${STYLES[style]}${text}${RESET}` : text;
}

/** The short name of a NAT instance ("a1"), or the id of anything else. */
function nameOf(snapshot: Snapshot, id: string | undefined): string {
  if (id === undefined) return "none";
  return snapshot.nats.find((nat) => nat.id === id)?.name ?? id;
}

function natOf(snapshot: Snapshot, id: string | undefined): NatView | undefined {
  return snapshot.nats.find((nat) => nat.id === id);
}

/** The router's move reasons in the reader's words ("" where the line says it already). */
const REASONS: Readonly<Record<string, string>> = {
  no_route: "",
  blackhole: "its target is gone (blackhole)",
  nat_unhealthy: "failover",
  foreign_target: "it pointed at something else",
  zone_preference: "failback to its zone",
  rebalance: "rebalance",
};

const reasonText = (reason: string | undefined) =>
  reason === undefined ? "" : REASONS[reason] ?? reason;
const withReason = (reason: string | undefined) =>
  reasonText(reason) === "" ? "" : `: ${reasonText(reason)}`;

/** Moves between two NATs that both still forward: they cut the subnet's open connections. */
const drops = (reason: string | undefined, fromForwarding: boolean) =>
  fromForwarding && (reason === "rebalance" || reason === "zone_preference");

// ---------------------------------------------------------------------------------------------
// Explanations (the same words in the live view and in the log)

function explainLeader(snapshot: Snapshot, leader: string, previous: string | undefined): string {
  const nat = natOf(snapshot, leader);
  const name = nameOf(snapshot, leader);
  if (nat?.launchRank === 1 && previous !== undefined) {
    return `leadership returns to ${name}: the oldest healthy NAT (by launch time) always ` +
      `leads, and ${name} was launched first, so it leads again once the routers count it ` +
      `healthy. Leading alone moves no route`;
  }
  if (nat?.launchRank === 1) {
    return `${name} leads: the oldest healthy NAT (launched first); only the leader writes routes`;
  }
  const older = snapshot.nats.filter((n) => n.launchRank < (nat?.launchRank ?? 0));
  return `${name} leads: the oldest NAT the routers count healthy (${
    older.map((n) => n.name).join(", ")
  } ${older.length === 1 ? "is" : "are"} older but down)`;
}

function explainDrop(
  snapshot: Snapshot,
  from: readonly (string | undefined)[],
  reasons: readonly string[],
): string {
  const delay = short(snapshot.timing.failbackDelayMs);
  const names = [...new Set(from.map((id) => nameOf(snapshot, id)))].join(" and ");
  const why = [...new Set(reasons.map(reasonText))].join(", ");
  const one = new Set(from).size === 1;
  return `moved off ${names} though ${one ? `${names} still forwards` : "they still forward"} ` +
    `(${why}), so the subnet's open connections through ${names} are dropped. The router ` +
    `makes such moves only after failback-delay ${delay}: once a NAT has been healthy that ` +
    `long, and not for a table moved within it`;
}

/** What a NAT's row needs explained: the routers' view lagging behind what the NAT does. */
function explainNats(snapshot: Snapshot): string[] {
  const t = snapshot.timing;
  const names = (nats: readonly NatView[]) => nats.map((n) => n.name).join(" and ");
  const counts = (said: readonly string[]) =>
    new Set(said).size === 1 && said.length > 1 ? `${said[0]} each` : said.join(", ");
  const them = (nats: readonly NatView[]) => nats.length === 1 ? "it" : "them";
  const out: string[] = [];
  const unnoticed = snapshot.nats.filter((n) => !n.forwarding && n.saidHealthy > 0);
  if (unnoticed.length > 0) {
    out.push(
      `${unnoticed.map((n) => `${n.name} is ${n.actual}`).join(" and ")}, but routers still call ${
        them(unnoticed)
      } healthy (${
        counts(unnoticed.map((n) => `${n.saidHealthy}/${n.routers}`))
      }): a router calls a NAT down after ${t.fall} failed probes (one every ${
        short(t.probeIntervalMs)
      }, ${short(t.timeoutMs)} timeout)`,
    );
  }
  const back = snapshot.nats.filter((n) => n.forwarding && n.saidUnhealthy > 0);
  if (back.length > 0) {
    out.push(
      `${names(back)} ${back.length === 1 ? "answers" : "answer"} again, but routers still call ${
        them(back)
      } down (${
        counts(back.map((n) => `${n.saidUnhealthy}/${n.routers}`))
      }): they need ${t.rise} good probes in a row`,
    );
  }
  const settling = snapshot.nats.filter((n) => recovering(snapshot, n));
  if (settling.length > 0) {
    out.push(
      `${names(settling)} ${settling.length === 1 ? "is" : "are"} healthy again but in ` +
        `failback delay: no new table until healthy for ${
          short(t.failbackDelayMs)
        } (no ping-pong if a NAT fails again)`,
    );
  }
  return out;
}

/** Healthy again, but within its failback delay: it keeps what it has and gains nothing. */
function recovering(snapshot: Snapshot, nat: NatView): boolean {
  return nat.forwarding && nat.saidUnhealthy === 0 && nat.saidHealthy > 0 &&
    nat.recoveredAtMs !== undefined &&
    snapshot.clockMs - nat.recoveredAtMs < snapshot.timing.failbackDelayMs;
}

// ---------------------------------------------------------------------------------------------
// The log (stdout is not a terminal)

/** What the world is, printed once before the first step. */
export function renderIntro(snapshot: Snapshot, command: string): string[] {
  const t = snapshot.timing;
  const zones = [
    ...new Set([
      ...snapshot.nats.map((n) => n.zone),
      ...snapshot.tables.flatMap((t) => t.zone ?? []),
    ]),
  ];
  const nats = snapshot.nats.map((n) => `${n.name} ${n.id} (${n.zone})`);
  return [
    `aws-nat-router demo: ${snapshot.world}`,
    `  NAT instances, oldest first (the oldest healthy one leads): ${nats.join(", ")}`,
    ...zones.map((zone) => {
      const tables = snapshot.tables.filter((t) => t.zone === zone).map((t) => t.id);
      const nats = snapshot.nats.filter((n) => n.zone === zone).map((n) => n.name);
      return `  ${zone}: ${nats.length ? `NAT ${nats.join(", ")}` : "no NAT"}; route tables ${
        tables.join(", ") || "none"
      }`;
    }),
    `  never touched: ${snapshot.others.map((o) => `${o.id} (${o.label})`).join(", ")}`,
    `  timing: a probe every ${short(t.probeIntervalMs)} (timeout ${short(t.timeoutMs)}), ` +
    `down after ${t.fall} failures, up after ${t.rise} successes, failback-delay ${
      short(t.failbackDelayMs)
    }`,
    `  each router runs (${snapshot.nats[0]?.name ?? "the first NAT"}'s shown):`,
    `    ${command}`,
  ];
}

/** The step's heading. */
function stepTitle(step: StepView): string {
  return `Step ${step.index}/${step.count} ${step.name}: ${step.title}`;
}

/** Whether an event of the same step before `event` matches `like` (its explanation is told). */
function toldBefore(
  event: DemoEvent,
  snapshot: Snapshot,
  like: (earlier: DemoEvent) => boolean,
): boolean {
  const start = snapshot.step?.startedAtMs ?? 0;
  const at = snapshot.events.indexOf(event);
  const earlier = at < 0 ? snapshot.events : snapshot.events.slice(0, at);
  return earlier.some((e) => e !== event && e.atMs >= start && like(e));
}

/** The route events of the current step on one table, up to and including `last`. */
function movesInStep(snapshot: Snapshot, routeTableId: string, last?: DemoEvent) {
  const start = snapshot.step?.startedAtMs ?? 0;
  const end = last === undefined ? snapshot.events.length : snapshot.events.indexOf(last) + 1;
  return snapshot.events.slice(0, end).filter((e) =>
    e.kind === "route" && e.routeTableId === routeTableId && e.atMs >= start
  ) as Extract<DemoEvent, { kind: "route" }>[];
}

/** Why a table moved again within one step, if it did. */
function explainMovedAgain(
  snapshot: Snapshot,
  moves: readonly Extract<DemoEvent, { kind: "route" }>[],
): string | undefined {
  if (moves.length < 2) return undefined;
  const path = [moves[0]!.from, ...moves.map((m) => m.to)].map((id) => nameOf(snapshot, id));
  return `${moves[0]!.routeTableId} moved ${moves.length} times in this step (${
    path.join(" → ")
  }), each move dropping its subnet's connections: the leader shares tables among the NATs ` +
    `past their failback delay at that moment and evens them out again as others pass it; ` +
    `a table just moved is held for failback-delay ${
      short(snapshot.timing.failbackDelayMs)
    }, then waits for the leader's next look (every ${short(snapshot.timing.intervalMs)})`;
}

/** An event as log lines: one line, then its explanation (if any) indented below. */
export function renderEvent(event: DemoEvent, snapshot: Snapshot): string[] {
  const at = stamp(event.atMs);
  const indent = `${" ".repeat(at.length)}   `;
  const why = (text: string | undefined) =>
    text === undefined
      ? []
      : wrap(text, LOG_WIDTH - indent.length - 2).map((line, i) =>
        `${indent}${i === 0 ? "↳" : " "} ${line}`
      );
  switch (event.kind) {
    case "step":
      return ["", `${at} ━━ ${stepTitle(event.step)}`];
    case "action":
      // At t=0, what the routers have not seen yet.
      return [
        `${at}   ${event.t0 ? "t=0: " : ""}${event.text}`,
        ...(event.t0 ? explainNats(snapshot).flatMap(why) : []),
      ];
    case "route": {
      const zone = event.zone ?? "no zone";
      const toZone = natOf(snapshot, event.to)?.zone;
      const cross = toZone !== undefined && event.zone !== undefined && toZone !== event.zone;
      return [
        `${at}   ${event.routeTableId} (${zone}): ${
          event.from === undefined ? "no route" : nameOf(snapshot, event.from)
        } → ${nameOf(snapshot, event.to)}${cross ? " cross-zone" : ""}${withReason(event.reason)}`,
        ...why(explainMovedAgain(snapshot, movesInStep(snapshot, event.routeTableId, event))),
        ...why(
          !drops(event.reason, event.fromForwarding)
            ? undefined
            : toldBefore(event, snapshot, (e) =>
                e.kind === "route" && drops(e.reason, e.fromForwarding))
            ? `connections through ${nameOf(snapshot, event.from)} dropped, as above`
            : explainDrop(snapshot, [event.from], [event.reason!]),
        ),
      ];
    }
    case "leader":
      return [
        `${at}   leader: ${nameOf(snapshot, event.leader)}${
          event.previous ? ` (was ${nameOf(snapshot, event.previous)})` : ""
        }, all running routers agree`,
        ...why(explainLeader(snapshot, event.leader, event.previous)),
      ];
    case "health": {
      const name = nameOf(snapshot, event.natId);
      return event.healthy
        ? [
          `${at}   routers agree ${name} is healthy again (${event.routers}/${event.routers})`,
          ...why(
            toldBefore(event, snapshot, (e) => e.kind === "health" && e.healthy)
              ? undefined
              : `a NAT back from down gains tables only once it has been healthy for failback-delay ${
                short(snapshot.timing.failbackDelayMs)
              }`,
          ),
        ]
        : [
          `${at}   routers agree ${name} is down (${event.routers}/${event.routers}: ${
            event.errors.join(", ")
          })`,
        ];
    }
    case "converged": {
      const r = event.result;
      return [
        `${at}   ✓ converged: ${r.moved} route table${r.moved === 1 ? "" : "s"} re-pointed, ` +
        `the last at t=${seconds(r.ms)} (${r.writes} route writes)${
          r.expected ? `; expected ${r.expected}` : ""
        }`,
      ];
    }
    case "flapping":
      return [`${at}   ! ${event.extraWrites} more route writes after convergence (flapping?)`];
  }
}

function routersSay(nat: NatView): string {
  const seen = nat.saidHealthy + nat.saidUnhealthy;
  if (seen === 0) return "no verdict yet";
  return [
    nat.saidHealthy > 0 ? `healthy ${nat.saidHealthy}/${seen}` : "",
    nat.saidUnhealthy > 0 ? `UNHEALTHY ${nat.saidUnhealthy}/${seen} (${nat.errors.join(",")})` : "",
  ].filter(Boolean).join(", ");
}

function routerText(nat: NatView): string {
  const r = nat.router;
  if (r === undefined) return "-";
  if (r.state === "killed") return `${r.name} KILLED`;
  if (r.state === "exited") return `${r.name} exited ${r.exitCode}`;
  return `${r.name} ${r.state}`;
}

/** The NAT instances and route tables, as the state table of the log or the live view. */
function stateRows(
  snapshot: Snapshot,
  paint: ReturnType<typeof painter>,
  roomy = true,
): string[] {
  const natRows = snapshot.nats.map((nat) => {
    const lagging = (!nat.forwarding && nat.saidHealthy > 0) ||
      (nat.forwarding && nat.saidUnhealthy > 0);
    const said = routersSay(nat) +
      (lagging ? " ⚠" : recovering(snapshot, nat) ? " (failback delay)" : "");
    return [
      paint(nat.name, "bold"),
      nat.zone,
      paint(nat.actual, nat.forwarding ? "green" : "red"),
      paint(said, lagging ? "yellow" : nat.saidUnhealthy > 0 ? "red" : undefined),
      String(nat.tables),
      routerText(nat),
    ];
  });
  const leader = snapshot.leader === undefined
    ? `not agreed (${
      snapshot.claims.map((c) => `${c.router}: ${nameOf(snapshot, c.leader)}`).join(", ")
    })`
    : `${nameOf(snapshot, snapshot.leader)} (all running routers agree)`;
  const stepStart = snapshot.step?.startedAtMs;
  const cells = snapshot.tables.map((table) => tableRow(snapshot, table, stepStart, paint));
  const width = Math.max(...cells.map(([, , target]) => visibleWidth(target)));
  const tableRows = cells.map(([id, zone, target, note]) => [
    id,
    zone,
    note ? target + " ".repeat(width - visibleWidth(target)) + "  " + note : target,
  ]);
  const otherRows = roomy
    ? snapshot.others.map((o) => [
      o.id,
      o.label,
      paint(`${o.target ?? "no route"} (not the router's)`, "dim"),
    ])
    : [];
  const others = roomy ? [] : [
    paint(
      `  not the router's: ${snapshot.others.map((o) => `${o.id} (${o.label})`).join(", ")}`,
      "dim",
    ),
  ];
  return [
    `NAT instances, oldest first — leader: ${leader}`,
    ...columns(
      [["NAT", "ZONE", "REALLY", "ROUTERS SAY", "TABLES", "ROUTER"], ...natRows],
      "  ",
    ),
    ...columns([["ROUTE TABLE", "ZONE", "0.0.0.0/0 →"], ...tableRows, ...otherRows], "  "),
    ...others,
  ];
}

/** Id, zone, target and the note on its move during this step (empty when it did not move). */
function tableRow(
  snapshot: Snapshot,
  table: TableView,
  stepStart: number | undefined,
  paint: ReturnType<typeof painter>,
): [string, string, string, string] {
  const nat = natOf(snapshot, table.target);
  const cross = nat !== undefined && table.zone !== undefined && nat.zone !== table.zone;
  let target = table.target === undefined
    ? paint("no default route", "red")
    : `${nameOf(snapshot, table.target)}${cross ? " cross-zone" : ""}`;
  if (nat !== undefined && !nat.forwarding) {
    target += " " + paint(`✗ ${nat.actual}: no egress`, "red");
  }
  const move = table.lastMove;
  const inStep = move !== undefined && stepStart !== undefined && move.atMs >= stepStart;
  if (!inStep) return [table.id, table.zone ?? "-", target, ""];
  const fresh = snapshot.clockMs - move.atMs < FRESH_MOVE_MS;
  const note = `◀ ${move.from === undefined ? "new" : `was ${nameOf(snapshot, move.from)}`} at ${
    clock(move.atMs)
  }${withReason(move.reason)}`;
  return [
    table.id,
    table.zone ?? "-",
    paint(target, fresh ? "fresh" : "moved"),
    paint(note, fresh ? "fresh" : "moved"),
  ];
}

/** The state at one instant as plain lines (the log prints it at the end). */
export function renderState(snapshot: Snapshot): string[] {
  return stateRows(snapshot, painter(false)).map((line) => `  ${line}`);
}

/** The NAT instances only, as plain lines (the log's short state after each step). */
export function renderNats(snapshot: Snapshot): string[] {
  const lines = renderState(snapshot);
  return lines.slice(0, 2 + snapshot.nats.length);
}

// ---------------------------------------------------------------------------------------------
// The live view (stdout is a terminal)

/**
 * One screen of the live view, at most `size.rows` lines of at most `size.columns` visible
 * characters: the clock and the step, the NATs, the route tables (moves of this step
 * highlighted), why things are as they are, and the latest events.
 */
export function renderLive(
  snapshot: Snapshot,
  size: ScreenSize,
  options: { ansi?: boolean } = {},
): string[] {
  const paint = painter(options.ansi ?? true);
  const step = snapshot.step;
  const head = [
    `${
      paint(`⏱ ${(snapshot.clockMs / 1000).toFixed(1)} s`, "bold")
    }  aws-nat-router demo · ${snapshot.world}`,
  ];
  if (step !== undefined) {
    head.push(paint(stepTitle(step), "cyan"));
    head.push("  " + stepStatus(snapshot, step));
  } else {
    head.push(snapshot.status ?? "", "");
  }
  const roomy = size.rows >= 30;
  const state = [...(roomy ? [""] : []), ...stateRows(snapshot, paint, roomy)];
  const why = whyLines(snapshot);
  const recent = snapshot.events
    .filter((e) => e.kind !== "step")
    .flatMap((e) => renderEvent(e, snapshot).slice(0, 1))
    .filter((line) => line.trim() !== "");
  const room = size.rows - head.length - state.length;
  const lines = [...head, ...state];
  const gap = roomy ? [""] : [];
  if (room >= 2 && why.length > 0) {
    // Explanations come first; on a tall screen some rows stay for the latest events.
    const budget = room - 1 - gap.length - (room >= 16 ? 5 : 0);
    const shown = why
      .flatMap((text) =>
        wrap(text, size.columns - 4).map((line, i) => `  ${i === 0 ? "•" : " "} ${line}`)
      );
    if (shown.length > budget) shown.splice(budget - 1, Infinity, `    …`);
    if (budget > 0) lines.push(...gap, paint("Why", "bold"), ...shown);
  }
  const left = size.rows - lines.length - gap.length - 1;
  if (left >= 1 && recent.length > 0) {
    lines.push(...gap, paint("Recent", "bold"), ...recent.slice(-left));
  }
  return lines.slice(0, size.rows).map((line) => fit(line, size.columns));
}

function stepStatus(snapshot: Snapshot, step: StepView): string {
  if (step.faultAtMs === undefined) return `preparing · then waiting until ${step.waitingFor}`;
  const since = `t=0 at ${clock(step.faultAtMs)}`;
  if (step.convergedMs === undefined) {
    return `${since} · t=${
      seconds(snapshot.clockMs - step.faultAtMs)
    } · waiting until ${step.waitingFor}`;
  }
  return `${since} · ✓ converged, the last move at t=${seconds(step.convergedMs)}${
    step.holding ? " · watching that nothing moves again" : ""
  }`;
}

/** The explanations the current state needs, most pressing first. */
export function whyLines(snapshot: Snapshot): string[] {
  const out = explainNats(snapshot);
  const step = snapshot.step;
  const events = step === undefined
    ? []
    : snapshot.events.filter((e) => e.atMs >= step.startedAtMs);
  const dropping = events.filter((e): e is Extract<DemoEvent, { kind: "route" }> =>
    e.kind === "route" && drops(e.reason, e.fromForwarding)
  );
  if (dropping.length > 0) {
    const tables = [...new Set(dropping.map((e) => e.routeTableId))];
    out.push(
      `${tables.join(", ")} ${
        explainDrop(snapshot, dropping.map((e) => e.from), dropping.map((e) => e.reason!))
      }`,
    );
    for (const table of tables) {
      const again = explainMovedAgain(snapshot, movesInStep(snapshot, table));
      if (again !== undefined) out.push(again);
    }
  }
  const leader = events.findLast((e) => e.kind === "leader");
  if (leader?.kind === "leader") {
    out.push(explainLeader(snapshot, leader.leader, leader.previous));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The end

export function renderSummary(summary: Summary): string[] {
  const flapping = summary.results.reduce((n, r) => n + r.extraWrites, 0);
  return [
    "",
    "━━ Summary",
    ...columns([
      ["STEP", "TIME", "ROUTE WRITES", "TABLES MOVED"],
      ...summary.results.map((r) => [
        `${r.n} ${r.name}`,
        seconds(r.ms),
        String(r.writes),
        String(r.moved),
      ]),
    ]),
    `  total route writes: ${summary.totalWrites}; writes after a step had converged: ${flapping}`,
    `  route writes logged by each router: ${
      summary.writesBy.map((w) => `${w.router} ${w.writes}`).join(", ")
    }`,
    ...summary.remit.map((t) =>
      `  ${t.label} table ${t.id}: ${
        t.untouched
          ? `untouched ✓ (→ ${t.target ?? "no route"}, no API call on it)`
          : `CHANGED ✗ (${t.calls} API calls on it)`
      }`
    ),
    summary.outsideRemit === undefined
      ? "  nothing but the tagged tables' default routes changed ✓"
      : `  something outside the router's remit changed ✗: ${summary.outsideRemit}`,
  ];
}

export function renderStopped(
  stopped: { routers: readonly string[]; error: string | undefined },
): string {
  return stopped.error === undefined
    ? `  routers stopped with SIGTERM: ${stopped.routers.join(", ")} exited 0 ✓`
    : `  a router did not exit cleanly ✗: ${stopped.error}`;
}
