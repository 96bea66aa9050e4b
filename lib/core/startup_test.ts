/** @module Tests for what a run needs before its first cycle: region order, profiles, deadline. */
import assert from "node:assert/strict";
import {
  givenRegion,
  identityFix,
  ONCE_BASE_DEADLINE_MS,
  onceDeadlineMs,
  profileRegion,
  REGION_FIX,
  retryDelayMs,
} from "./startup.ts";

const PATH = "/root/.aws/config";

Deno.test("givenRegion() takes the flag, then AWS_REGION, then the profile", async (t) => {
  const cases = [
    {
      name: "givenRegion() prefers --region over everything",
      given: { flag: "eu-west-1", environment: "us-east-1", profile: "ap-south-1" },
      expected: { region: "eu-west-1", source: "flag" },
    },
    {
      name: "givenRegion() takes AWS_REGION over the profile",
      given: { flag: undefined, environment: "us-east-1", profile: "ap-south-1" },
      expected: { region: "us-east-1", source: "environment" },
    },
    {
      name: "givenRegion() takes the profile's region when nothing else gives one",
      given: { flag: undefined, environment: "  ", profile: "ap-south-1" },
      expected: { region: "ap-south-1", source: "profile" },
    },
    {
      name: "givenRegion() leaves it to the metadata service when nothing gives one",
      given: { flag: undefined, environment: "", profile: undefined },
      expected: undefined,
    },
  ] as const;
  for (const { name, given, expected } of cases) {
    await t.step(name, () => assert.deepEqual(givenRegion(given), expected));
  }
});

Deno.test("profileRegion() reads the region of the selected profile", async (t) => {
  const file = [
    "# shared settings",
    "[default]",
    "region = us-west-2",
    "output = json",
    "",
    "[profile ops]",
    "  ; a comment",
    "region=eu-central-1   # where the NATs are",
    "s3 =",
    "  region = not-a-region",
    "[profile  spaced ]",
    "region = ap-northeast-1",
    "[ops]",
    "region = us-east-2",
    "[profile bad]",
    "region = Mars",
    "[profile none]",
    "output = text",
  ].join("\n");
  const cases = [
    {
      name: "profileRegion() reads [default] for the default profile",
      profile: "default",
      region: "us-west-2",
    },
    {
      name: "profileRegion() reads [profile NAME], past comments and sub-settings",
      profile: "ops",
      region: "eu-central-1",
    },
    {
      name: "profileRegion() tolerates spaces inside the brackets",
      profile: "spaced",
      region: "ap-northeast-1",
    },
    {
      name: "profileRegion() gives nothing for a profile without region",
      profile: "none",
      region: undefined,
    },
    {
      name: "profileRegion() gives nothing for a profile not in the file",
      profile: "absent",
      region: undefined,
    },
  ];
  for (const { name, profile, region } of cases) {
    await t.step(
      name,
      () => assert.deepEqual(profileRegion(file, profile, PATH), { ok: true, region }),
    );
  }
  await t.step("profileRegion() reads [profile default] too, and CRLF line ends", () => {
    assert.deepEqual(
      profileRegion("[profile default]\r\nregion = sa-east-1\r\n", "default", PATH),
      {
        ok: true,
        region: "sa-east-1",
      },
    );
  });
  await t.step(
    "profileRegion() refuses a malformed region, naming the profile, file and fix",
    () => {
      const result = profileRegion(file, "bad", PATH);
      assert.ok(!result.ok);
      assert.equal(
        result.error,
        'Cannot parse region "Mars" of profile "bad" in /root/.aws/config: expected a region ' +
          "such as us-east-1; fix the file, or pass --region",
      );
    },
  );
});

Deno.test("onceDeadlineMs() is 30s plus the probing the health checks need", () => {
  assert.equal(ONCE_BASE_DEADLINE_MS, 30_000);
  assert.equal(onceDeadlineMs({ fall: 2, rise: 2, probeIntervalMs: 1_000 }), 32_000);
  assert.equal(onceDeadlineMs({ fall: 1, rise: 10, probeIntervalMs: 5_000 }), 80_000);
});

Deno.test("retryDelayMs() doubles from 1s and stays at 30s", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(retryDelayMs), [
    1_000,
    2_000,
    4_000,
    8_000,
    16_000,
    30_000,
    30_000,
    30_000,
  ]);
});

Deno.test("the fixes name the flags and variables that give what is missing", async (t) => {
  await t.step("REGION_FIX names --region and AWS_REGION", () => {
    assert.match(REGION_FIX, /^pass --region or set AWS_REGION/);
  });
  await t.step("identityFix() names the flags that need the identity", () => {
    assert.match(identityFix({ ec2Election: true, selfCheck: false }), /or drop --ec2-election$/);
    assert.match(identityFix({ ec2Election: false, selfCheck: true }), /or drop --self-check$/);
    assert.match(
      identityFix({ ec2Election: true, selfCheck: true }),
      /or drop --ec2-election and --self-check$/,
    );
    assert.match(identityFix({ ec2Election: true, selfCheck: false }), /IMDSv2/);
  });
});
