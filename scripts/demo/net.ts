/**
 * @module `demo --net`: the demo's story on real packets (the namespace world of tests/netns/,
 * root on Linux). Draws, live, one timeline per private subnet — which NAT carries its
 * datagrams, one cell per 100 ms, a gap where they are lost — while NATs crash, hang, and
 * lose packets on their health port; then prints the measured blackout of each step.
 * `deno task demo --net` calls `runNetDemo()`.
 */
import { DEFAULT_TIMING } from "../../tests/e2e.ts";
import { faultAndMove, type FaultKind, repair, zoneAllocation } from "../../tests/netns/faults.ts";
import { netnsAvailable, NetWorld } from "../../tests/netns/world.ts";

const CELL_MS = 100;
const COLORS = ["\x1b[32m", "\x1b[36m", "\x1b[35m", "\x1b[33m"];
const RESET = "\x1b[0m";

export interface NetDemoOptions {
  /** Where to draw (default stdout); `plain` prints a static line per step instead. */
  readonly write?: (text: string) => void;
  /** No ANSI redraws (not a terminal). */
  readonly plain?: boolean;
  /** Timeline cells shown per line (default 70 = 7 s). */
  readonly width?: number;
  /** How long the health-port loss step lasts (default 10 s). */
  readonly lossSeconds?: number;
}

interface Step {
  readonly text: string;
  readonly fault?: FaultKind;
  readonly nat?: number;
  readonly loss?: number;
}

const STORY: readonly Step[] = [
  { text: "crash of the zone-b NAT (interfaces down)", fault: "crash", nat: 2 },
  { text: "hang of a zone-a NAT (drops everything)", fault: "hang", nat: 1 },
  { text: "crash of the leader", fault: "crash", nat: 0 },
  { text: "20% random loss on a NAT's health port", loss: 1 },
];

/** One cell: the NAT (1-based index, `G` for the gateway) that carried most, or a gap. */
function cell(world: NetWorld, subnet: string, from: number, to: number): string {
  const counts = new Map<string, number>();
  for (const a of world.arrivals.get(subnet) ?? []) {
    if (a.at < from || a.at >= to) continue;
    const carrier = world.carrierOf(a.source);
    counts.set(carrier, (counts.get(carrier) ?? 0) + 1);
  }
  if (counts.size === 0) return " ";
  const [carrier] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  if (carrier === "gateway") return "G";
  const index = world.nats.findIndex((n) => n.instanceId === carrier);
  return index < 0 ? "?" : String(index + 1);
}

function render(world: NetWorld, width: number, status: string, color: boolean): string[] {
  const now = Date.now();
  const end = now - (now % CELL_MS);
  const lines = world.subnets.map((s) => {
    let row = "";
    for (let i = width; i > 0; i--) {
      const c = cell(world, s.name, end - i * CELL_MS, end - (i - 1) * CELL_MS);
      const n = Number(c);
      row += color && n > 0 ? `${COLORS[(n - 1) % COLORS.length]}█${RESET}` : c === " " ? "·" : c;
    }
    return `${s.name} (${s.zone.slice(-1)}) ${row}`;
  });
  const legend = world.nats.map((n, i) =>
    `${color ? `${COLORS[i % COLORS.length]}█${RESET}` : i + 1} nat${i + 1} ${n.zone.slice(-1)}`
  ).join("  ");
  return [`${legend}  · = lost`, ...lines, status];
}

/** Runs the story; resolves with one summary line per step. */
export async function runNetDemo(options: NetDemoOptions = {}): Promise<string[]> {
  const write = options.write ??
    ((text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text)));
  const width = options.width ?? 70;
  const color = !options.plain;
  if (!(await netnsAvailable((line) => write(`${line}\n`)))) return [];
  write("Building the namespace world (VPC bridge, 3 NAT namespaces, 4 subnets, internet)…\n");
  const world = await NetWorld.build();
  const summary: string[] = [];
  let status = "starting the routers (deno run -P=default main.ts inside each NAT)";
  let drawn = 0;
  const draw = () => {
    const lines = render(world, width, status, color);
    if (options.plain) return;
    write((drawn > 0 ? `\x1b[${drawn}A` : "") + lines.map((l) => `\x1b[2K${l}\n`).join(""));
    drawn = lines.length;
  };
  const timer = options.plain ? undefined : setInterval(draw, CELL_MS);
  const say = (text: string) => {
    status = text;
    if (options.plain) write(`${text}\n`);
  };
  try {
    await world.startRouters([...DEFAULT_TIMING, "--failback-delay", "3s"]);
    await world.waitUntil("the initial allocation", () => zoneAllocation(world), 60_000);
    say("steady: each subnet leaves through a NAT of its zone");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const step of STORY) {
      const nat = world.nats[step.nat ?? step.loss ?? 0]!;
      if (step.fault) {
        say(`${step.text}: nat${nat.index}…`);
        const { moves } = await faultAndMove(world, step.fault, nat.instanceId);
        const text = `${step.text}: ` +
          moves.map((m) =>
            `${m.subnet} → nat${
              world.nat(m.to).index
            } after ${m.blackoutMs} ms (${m.lost} datagrams lost)`
          ).join(", ");
        summary.push(text);
        say(`${text}; repairing…`);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await repair(world, step.fault, nat.instanceId);
        await world.waitUntil("back", () => zoneAllocation(world), 60_000);
        say(`nat${nat.index} repaired: traffic back after --rise and --failback-delay`);
      } else {
        const seconds = options.lossSeconds ?? 10;
        const writes = world.sim.routeWrites.length;
        say(`${step.text} (nat${nat.index}) for ${seconds} s…`);
        await world.loseHealthPackets(nat.instanceId, 20);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        await world.heal(nat.instanceId);
        const text = `${step.text} for ${seconds} s: ${
          world.sim.routeWrites.length - writes
        } route moves`;
        summary.push(text);
        say(text);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
    if (!options.plain) draw();
    await world.close();
  }
  write("\nMeasured on real packets:\n" + summary.map((l) => `  - ${l}`).join("\n") + "\n");
  return summary;
}

if (import.meta.main) {
  await runNetDemo({ plain: !Deno.stdout.isTerminal() });
}
