// deno-lint-ignore-file no-console
/**
 * @module The footprint benchmark's floor: a process that loads only part of what the router
 * loads, then idles until killed, so the parent can read its memory from /proc. Modes:
 * `bare` (nothing), `sdk` (`@aws-sdk/client-ec2` and one client, as the EC2 adapter builds
 * it), `main` (the program's whole module graph, nothing run). Prints `ready` when loaded.
 *
 * Usage: deno run -P=sim [--v8-flags=...] scripts/bench/floor_child.ts bare|sdk|main
 */
const mode = Deno.args[0];
if (mode === "sdk") {
  const { EC2Client } = await import("@aws-sdk/client-ec2");
  const { FetchHttpHandler } = await import("@smithy/fetch-http-handler");
  const client = new EC2Client({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDFLOOR", secretAccessKey: "floor" },
    requestHandler: new FetchHttpHandler({ requestTimeout: 5000 }),
  });
  (globalThis as { client?: unknown }).client = client; // keep it alive
} else if (mode === "main") {
  await import("../../main.ts");
} else if (mode !== "bare") {
  console.error(`floor_child: unknown mode "${mode}": expected bare, sdk or main`);
  Deno.exit(2);
}
console.log("ready");
setInterval(() => {}, 60_000); // idle like a daemon between cycles
