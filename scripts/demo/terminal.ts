/**
 * @module Where the demo's lines go: `LiveOutput` redraws one screen in place on a terminal
 * (ANSI: cursor home, clear to the end of each line, cursor hidden meanwhile), `LogOutput`
 * prints a short log when stdout is not a terminal (tests, CI, a pipe). Both only write what
 * `screen.ts` renders; the only writer of the demo's stdout.
 */
import type { DemoOutput } from "./scenario.ts";
import type { DemoEvent, Snapshot } from "./snapshot.ts";
import { renderEvent, renderLive, renderNats, type ScreenSize } from "./screen.ts";

const encoder = new TextEncoder();

/** Writes all of `text` to stdout. */
export function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

export function writeLines(lines: readonly string[]): void {
  if (lines.length > 0) writeOut(lines.join("\n") + "\n");
}

/** A short log: each event as a line (with its explanation), the NATs' state after each step. */
export class LogOutput implements DemoOutput {
  event(event: DemoEvent, snapshot: Snapshot): void {
    writeLines(renderEvent(event, snapshot));
    // After each step but the last (the end state follows it in full).
    const last = snapshot.step !== undefined && snapshot.step.index === snapshot.step.count;
    if (event.kind === "converged" && !last) writeLines(renderNats(snapshot));
  }

  tick(): void {}

  routerLine(router: string, line: string): void {
    writeLines([`           [${router}] ${line}`]);
  }
}

/** One screen, redrawn in place whenever what it shows changes. */
export class LiveOutput implements DemoOutput {
  #drawn = "";
  #active = false;

  /** Clears the terminal and hides the cursor. */
  start(): void {
    this.#active = true;
    writeOut("\x1b[?25l\x1b[H\x1b[2J");
  }

  event(_event: DemoEvent, snapshot: Snapshot): void {
    this.tick(snapshot);
  }

  tick(snapshot: Snapshot): void {
    if (!this.#active) return;
    const text = renderLive(snapshot, screenSize())
      .map((line) => line + "\x1b[K")
      .join("\n");
    if (text === this.#drawn) return;
    this.#drawn = text;
    writeOut(`\x1b[H${text}\x1b[J`);
  }

  routerLine(): void {}

  /** Leaves the last screen where it is, below it the cursor (shown again). */
  end(): void {
    if (!this.#active) return;
    this.#active = false;
    writeOut("\n\x1b[?25h");
  }
}

/** The terminal's size, less one row and one column so that drawing never wraps or scrolls. */
function screenSize(): ScreenSize {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { columns: Math.max(40, columns - 1), rows: Math.max(10, rows - 1) };
  } catch {
    return { columns: 100, rows: 40 };
  }
}
