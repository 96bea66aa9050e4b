/** @module Tests for permission refusals and refused ports in an operator's words. */
import assert from "node:assert/strict";
import { explainNetError, explainNotCapable, explainRefused, isNotCapable } from "./net_errors.ts";
import { toEc2Error } from "./ec2.ts";

const refusedByDeno = () =>
  new Deno.errors.NotCapable(
    'Requires net access to "10.0.0.1:443", run again with the --allow-net flag',
  );

/** What fetch throws for a closed port: a bare TypeError, the reason in its cause. */
const refusedPort = () =>
  new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://127.0.0.1:45678/latest/api/token): client error " +
        "(Connect): tcp connect error: Connection refused (os error 111)",
    ),
  });

Deno.test("explainNotCapable()", async (t) => {
  await t.step("explainNotCapable() names what the set refuses and how to change it", () => {
    assert.equal(
      explainNotCapable(refusedByDeno()),
      'net access to "10.0.0.1:443" is outside the permission set; add it to the "default" ' +
        "permission set in deno.json, then rebuild with deno task compile",
    );
  });
  await t.step("explainNotCapable() never tells the operator to pass --allow-net", () => {
    assert.doesNotMatch(explainNotCapable(refusedByDeno()) ?? "", /--allow|run again/);
  });
  await t.step("explainNotCapable() finds the refusal in an error's causes", () => {
    const wrapped = new Error("request failed", { cause: refusedByDeno() });
    assert.ok(isNotCapable(wrapped));
    assert.match(explainNotCapable(wrapped) ?? "", /^net access to "10\.0\.0\.1:443" is outside/);
  });
  await t.step("explainNotCapable() leaves other errors alone", () => {
    assert.equal(explainNotCapable(new Error("boom")), undefined);
    assert.equal(isNotCapable("boom"), false);
  });
});

Deno.test("explainRefused()", async (t) => {
  await t.step("explainRefused() reads a refused port as what it is", () => {
    assert.equal(explainRefused(refusedPort()), "connection refused by 127.0.0.1:45678");
  });
  await t.step("explainRefused() names the default port of the scheme", () => {
    const error = new TypeError("fetch failed", {
      cause: new Error(
        "error sending request for url (https://ec2.us-east-1.amazonaws.com/): tcp connect " +
          "error: Connection refused (os error 111)",
      ),
    });
    assert.equal(explainRefused(error), "connection refused by ec2.us-east-1.amazonaws.com:443");
  });
  await t.step("explainRefused() leaves other failures (and its own words) alone", () => {
    assert.equal(
      explainRefused(new Error("Cannot find credentials: connection refused by x")),
      undefined,
    );
    assert.equal(explainNetError(new TypeError("fetch failed")), undefined);
  });
});

Deno.test("toEc2Error() words refusals for the operator", async (t) => {
  await t.step("toEc2Error() keeps the code NotCapable and says how to allow it", () => {
    const error = toEc2Error("DescribeInstances", refusedByDeno());
    assert.equal(error.code, "NotCapable");
    assert.match(error.detail, /^net access to "10\.0\.0\.1:443" is outside the permission set;/);
  });
  await t.step("toEc2Error() reads a refused endpoint port as a refused connection", () => {
    const error = toEc2Error("DescribeInstances", refusedPort());
    assert.equal(error.code, "NetworkError");
    assert.equal(error.detail, "connection refused by 127.0.0.1:45678");
    assert.ok(error.transient, "worth retrying");
  });
});
