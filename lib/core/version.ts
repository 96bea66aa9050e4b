/**
 * @module The program's version, read from `deno.json` at build time so that a compiled
 * binary prints the version it was built from.
 */
import denoConfig from "../../deno.json" with { type: "json" };

export const VERSION: string = denoConfig.version;
