/**
 * @module What a run needs before its first cycle, decided purely: where the region comes
 * from (flag, then `AWS_REGION`, then the selected profile of the AWS config file, then the
 * instance metadata service), the region line of that file, how long a one-shot run may
 * take in all, how long to wait before asking the metadata service again, and the fix an
 * operator reads when the region or this instance's identity cannot be found.
 */

/** Where a region was found, in resolution order (logged as `source`). */
export type RegionSource = "flag" | "environment" | "profile" | "metadata";

/** The fix for a region nobody gave (shared by the daemon, `--once` and `status`). */
export const REGION_FIX =
  "pass --region or set AWS_REGION (or region in the AWS profile) when not on an EC2 instance";

/** The fix for an identity the metadata service did not give, for the flags that need it. */
export function identityFix(needs: { ec2Election: boolean; selfCheck: boolean }): string {
  const flags = [needs.ec2Election ? "--ec2-election" : "", needs.selfCheck ? "--self-check" : ""]
    .filter((flag) => flag !== "");
  return "run it on an EC2 instance whose metadata service answers IMDSv2 " +
    "(or point AWS_EC2_METADATA_SERVICE_ENDPOINT at one), " +
    `or drop ${flags.join(" and ") || "the flags that need it"}`;
}

/** The first region given without asking the metadata service, and where it came from. */
export function givenRegion(given: {
  readonly flag: string | undefined;
  readonly environment: string | undefined;
  readonly profile: string | undefined;
}): { readonly region: string; readonly source: RegionSource } | undefined {
  for (const source of ["flag", "environment", "profile"] as const) {
    const region = given[source]?.trim();
    if (region) return { region, source };
  }
  return undefined;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** What the AWS config file says about a profile's region. */
export type ProfileRegion =
  | { readonly ok: true; readonly region: string | undefined }
  | { readonly ok: false; readonly error: string };

/**
 * Reads `region` from the section of `profile` in the text of an AWS config file: `[default]`
 * (or `[profile default]`) for the default profile, `[profile NAME]` for any other. Comment
 * lines (`#`, `;`) and indented sub-settings are skipped; a malformed value is an error.
 */
export function profileRegion(text: string, profile: string, path: string): ProfileRegion {
  const wanted = profile === "default" ? ["default", "profile default"] : [`profile ${profile}`];
  let inSection = false;
  let region: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw) || /^\s/.test(raw)) continue;
    const section = /^\[\s*([^\]]*?)\s*\]/.exec(raw);
    if (section) {
      inSection = wanted.includes((section[1] ?? "").replace(/\s+/g, " "));
      continue;
    }
    const setting = /^([^=]+?)\s*=\s*(.*)$/.exec(raw);
    if (inSection && setting && setting[1]?.trim().toLowerCase() === "region") {
      region = (setting[2] ?? "").replace(/\s+[#;].*$/, "").trim();
    }
  }
  if (region === undefined || region === "") return { ok: true, region: undefined };
  if (!REGION.test(region)) {
    return {
      ok: false,
      error: `Cannot parse region ${JSON.stringify(region.slice(0, 64))} of profile ` +
        `${JSON.stringify(profile)} in ${path}: expected a region such as us-east-1; ` +
        "fix the file, or pass --region",
    };
  }
  return { ok: true, region };
}

/** What a one-shot run may take before the probing its health checks need. */
export const ONCE_BASE_DEADLINE_MS = 30_000;

/**
 * The total deadline of a `--once` run: 30 s plus the probing its verdicts may need
 * (`max(fall, rise)` probes `probeInterval` apart). Waiting for the region or the identity
 * counts against it; past it the run stops with exit code 1.
 */
export function onceDeadlineMs(settings: {
  readonly fall: number;
  readonly rise: number;
  readonly probeIntervalMs: number;
}): number {
  return ONCE_BASE_DEADLINE_MS + Math.max(settings.fall, settings.rise) * settings.probeIntervalMs;
}

/** How long to wait before asking again after `failures` failed attempts: 1 s, doubling, 30 s at most. */
export function retryDelayMs(failures: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failures - 1), 30_000);
}
