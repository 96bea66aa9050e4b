/**
 * @module Network and permission failures in an operator's words. Deno's own texts assume
 * `deno run` (`Requires net access to "…", run again with the --allow-net flag`), which an
 * operator of the compiled binary cannot do, and fetch buries a refused port under
 * `fetch failed: client error (Connect): tcp connect error: …`. Both become one short phrase
 * here: what was refused, and for the permission set how to change it.
 */

/** How to widen what the program may do: the binary bakes the set in at compile time. */
export const PERMISSION_FIX =
  'add it to the "default" permission set in deno.json, then rebuild with deno task compile';

const DENO_REFUSAL = /Requires (\w+) access to (.+?), run again with the --allow-\S+ flag/;

/** The error, or the first cause in its chain, that Deno refused for want of a permission. */
function notCapable(error: unknown): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof Deno.errors.NotCapable || e.name === "NotCapable") return e;
  }
  return undefined;
}

/** Whether Deno refused the operation because the permission set does not allow it. */
export function isNotCapable(error: unknown): boolean {
  return notCapable(error) !== undefined;
}

/**
 * `net access to "10.0.0.1:443" is outside the permission set; add it to …` for a permission
 * refusal, else `undefined`.
 */
export function explainNotCapable(error: unknown): string | undefined {
  const refused = notCapable(error);
  if (refused === undefined) return undefined;
  const match = DENO_REFUSAL.exec(refused.message);
  const what = match ? `${match[1]} access to ${match[2]}` : refused.message.split("\n")[0];
  return `${what} is outside the permission set; ${PERMISSION_FIX}`;
}

/** `connection refused by 127.0.0.1:8080` when fetch's cause says the port refused, else `undefined`. */
export function explainRefused(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (
      e instanceof Deno.errors.ConnectionRefused || /Connection refused \(os error/.test(e.message)
    ) {
      const url = /request for url \(([^)]*)\)/.exec(e.message)?.[1];
      let where = "";
      if (url !== undefined) {
        try {
          const parsed = new URL(url);
          const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
          where = ` by ${parsed.hostname}:${port}`;
        } catch { /* no address to name */ }
      }
      return `connection refused${where}`;
    }
  }
  return undefined;
}

/** A permission refusal or a refused connection in plain words, else `undefined`. */
export function explainNetError(error: unknown): string | undefined {
  return explainNotCapable(error) ?? explainRefused(error);
}
