/**
 * @module The credential chain: environment keys, then the shared config/credentials files
 * (`AWS_PROFILE`, else the `default` profile when its files are inside the permission set),
 * then the instance role read through IMDSv2 with `fetch`. The SDK memoizes what this
 * returns and calls it again before `expiration`. When no link answers, the error names every
 * link and why it gave nothing. Secrets never reach a log line or an error message from here.
 */
import { fromEnv, fromIni } from "@aws-sdk/credential-providers";
import type { AwsCredentials, CredentialProvider, Metadata } from "./metadata.ts";
import { explainNotCapable } from "./net_errors.ts";
import { readable, sharedFiles } from "./aws_files.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** No link of the chain gave credentials; logged as the failed call's code. */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

type Link = readonly [name: string, provider: CredentialProvider];

/** A link that could not even be tried, and why (named in the error all the same). */
type Untried = readonly [name: string, why: string];

function firstLine(error: unknown): string {
  return explainNotCapable(error) ??
    (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/** Builds the chain; `source()` tells which link answered last (for logs, never secrets). */
export function createCredentialChain(
  env: Env,
  metadata: Metadata,
  options: { readonly canRead?: (path: string) => boolean } = {},
): CredentialProvider & { source(): string | undefined } {
  const canRead = options.canRead ?? readable;
  let source: string | undefined;
  const links: (Link | Untried)[] = [];
  const missingKeys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].filter((name) => !env[name]);
  links.push(
    missingKeys.length === 0
      ? ["environment", fromEnv()]
      : ["environment", `${missingKeys.join(" and ")} not set`],
  );
  if (env.AWS_PROFILE) {
    links.push([`profile ${env.AWS_PROFILE}`, fromIni({ profile: env.AWS_PROFILE })]);
  } else {
    // The SDK's own chain reads the default profile; so does this one, where it may read.
    const files = sharedFiles(env);
    links.push(
      files && canRead(files.config) && canRead(files.credentials)
        ? ["profile default", fromIni({ profile: "default" })]
        : ["profile", "AWS_PROFILE not set, and the shared files are outside the permission set"],
    );
  }
  links.push(["instance role", () => metadata.roleCredentials()]);

  const provider = async (): Promise<AwsCredentials> => {
    const failures: string[] = [];
    for (const [name, link] of links) {
      if (typeof link === "string") {
        failures.push(`${name} (${link})`);
        continue;
      }
      try {
        const credentials = await link();
        source = name;
        return credentials;
      } catch (error) {
        failures.push(`${name} (${firstLine(error)})`);
      }
    }
    throw new CredentialsError(
      `Cannot find AWS credentials: tried ${failures.join(", ")}; set AWS_ACCESS_KEY_ID and ` +
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or attach an instance profile",
    );
  };
  return Object.assign(provider, { source: () => source });
}
