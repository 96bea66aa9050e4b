/**
 * @module The AWS shared files, found as the SDK finds them: `AWS_CONFIG_FILE` (else
 * `~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`). Reads the
 * config file's text for the region of the selected profile, asking the permission set
 * first so that a file outside it is reported, never prompted for.
 */
import { PERMISSION_FIX } from "./net_errors.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** The shared files' paths; `undefined` without `HOME` (or `USERPROFILE`) or overrides. */
export function sharedFiles(env: Env): { config: string; credentials: string } | undefined {
  const home = env.HOME || env.USERPROFILE;
  const config = env.AWS_CONFIG_FILE || (home ? `${home}/.aws/config` : undefined);
  const credentials = env.AWS_SHARED_CREDENTIALS_FILE ||
    (home ? `${home}/.aws/credentials` : undefined);
  return config && credentials ? { config, credentials } : undefined;
}

/** Whether the permission set lets the program read `path`, asked without a prompt. */
export function readable(path: string): boolean {
  return Deno.permissions.querySync({ name: "read", path }).state === "granted";
}

/** The config file as found: its text, absent, or outside the permission set. */
export type ConfigFile =
  | { readonly kind: "text"; readonly path: string; readonly text: string }
  | { readonly kind: "absent"; readonly path: string | undefined }
  | { readonly kind: "refused"; readonly path: string; readonly error: string };

/** Reads the AWS config file; a missing file is `absent`, an unreadable one `refused`. */
export async function readConfigFile(
  env: Env,
  options: { readonly canRead?: (path: string) => boolean } = {},
): Promise<ConfigFile> {
  const path = sharedFiles(env)?.config;
  if (path === undefined) return { kind: "absent", path };
  if (!(options.canRead ?? readable)(path)) {
    return {
      kind: "refused",
      path,
      error: `read access to ${JSON.stringify(path)} is outside the permission set; ` +
        `move the file under /root/.aws, or ${PERMISSION_FIX}`,
    };
  }
  try {
    return { kind: "text", path, text: await Deno.readTextFile(path) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "absent", path };
    const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { kind: "refused", path, error: `cannot read ${JSON.stringify(path)}: ${detail}` };
  }
}
