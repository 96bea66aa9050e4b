/** @module Tests for the credential chain: every link is tried, and named when none answers. */
import assert from "node:assert/strict";
import { createCredentialChain, CredentialsError } from "./credentials.ts";
import type { Metadata } from "./metadata.ts";

function metadata(role: () => Promise<{ accessKeyId: string; secretAccessKey: string }>): Metadata {
  return {
    endpoint: "http://127.0.0.1:1",
    identity: () => Promise.reject(new Error("unused")),
    region: () => Promise.reject(new Error("unused")),
    roleCredentials: role,
  };
}

const noRole = metadata(() =>
  Promise.reject(
    new Error(
      "Cannot read /latest/meta-data/iam/security-credentials/ from the instance metadata " +
        "service at http://127.0.0.1:1: connection refused by 127.0.0.1:1",
    ),
  )
);

Deno.test("createCredentialChain()", async (t) => {
  await t.step("createCredentialChain() names environment, profile and instance role", async () => {
    const chain = createCredentialChain({ HOME: "/nonexistent" }, noRole, {
      canRead: () => false,
    });
    const error = await chain().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof CredentialsError, String(error));
    assert.equal(
      error.message,
      "Cannot find AWS credentials: tried environment (AWS_ACCESS_KEY_ID and " +
        "AWS_SECRET_ACCESS_KEY not set), profile (AWS_PROFILE not set, and the shared files are " +
        "outside the permission set), instance role (Cannot read " +
        "/latest/meta-data/iam/security-credentials/ from the instance metadata service at " +
        "http://127.0.0.1:1: connection refused by 127.0.0.1:1); set AWS_ACCESS_KEY_ID and " +
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or attach an instance profile",
    );
  });

  await t.step("createCredentialChain() names a half-set key pair", async () => {
    const chain = createCredentialChain({ AWS_ACCESS_KEY_ID: "AKIDEXAMPLE" }, noRole, {
      canRead: () => false,
    });
    const error = await chain().then(() => undefined, (e: unknown) => e);
    assert.match(String(error), /tried environment \(AWS_SECRET_ACCESS_KEY not set\), profile/);
    assert.doesNotMatch(String(error), /AKIDEXAMPLE/, "no key in the message");
  });

  await t.step(
    "createCredentialChain() takes the instance role when the others give none",
    async () => {
      const chain = createCredentialChain(
        {},
        metadata(() => Promise.resolve({ accessKeyId: "ASIAROLE", secretAccessKey: "s" })),
        { canRead: () => false },
      );
      assert.equal((await chain()).accessKeyId, "ASIAROLE");
      assert.equal(chain.source(), "instance role");
    },
  );
});
