/**
 * @module An `@aws-sdk/client-ec2` client wired to a simulated EC2 endpoint, for tests that
 * drive the simulator with the real SDK. Remember `client.destroy()`.
 */

import { EC2Client } from "@aws-sdk/client-ec2";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { TEST_CREDENTIALS } from "./vpc.ts";

export interface SimClientOptions {
  readonly region?: string;
  readonly maxAttempts?: number;
  readonly credentials?: EC2Client["config"]["credentials"] | typeof TEST_CREDENTIALS;
}

export function simEc2Client(endpoint: string, options: SimClientOptions = {}): EC2Client {
  return new EC2Client({
    endpoint,
    region: options.region ?? "us-east-1",
    credentials: options.credentials ?? TEST_CREDENTIALS,
    requestHandler: new FetchHttpHandler(),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
}
