/**
 * @module The credential chain: environment keys, then the shared config/credentials files
 * (`AWS_PROFILE`), then the instance role read through IMDSv2 with `fetch`. The SDK
 * memoizes what this returns and calls it again before `expiration`. Secrets never reach
 * a log line or an error message from here.
 */
import { fromEnv, fromIni } from "@aws-sdk/credential-providers";
import type { AwsCredentials, CredentialProvider, Metadata } from "./metadata.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** No link of the chain gave credentials; logged as the failed call's code. */
export class CredentialsError extends Error {
  override readonly name = "CredentialsError";
}

/** Builds the chain; `describe()` tells which link answered last (for logs, never secrets). */
export function createCredentialChain(
  env: Env,
  metadata: Metadata,
): CredentialProvider & { source(): string | undefined } {
  let source: string | undefined;
  const links: [string, CredentialProvider][] = [];
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) links.push(["environment", fromEnv()]);
  if (env.AWS_PROFILE) {
    links.push([`profile ${env.AWS_PROFILE}`, fromIni({ profile: env.AWS_PROFILE })]);
  }
  links.push(["instance role", () => metadata.roleCredentials()]);

  const provider = async (): Promise<AwsCredentials> => {
    const failures: string[] = [];
    for (const [name, link] of links) {
      try {
        const credentials = await link();
        source = name;
        return credentials;
      } catch (error) {
        failures.push(`${name}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
      }
    }
    throw new CredentialsError(`Cannot find AWS credentials (${failures.join("; ")})`);
  };
  return Object.assign(provider, { source: () => source });
}
