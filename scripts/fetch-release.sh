#!/usr/bin/env bash
# Fetches the pinned aws-nat-router release binary for this machine and verifies it.
# Run by aws-nat-router.service as ExecStartPre (installed to
# /usr/local/libexec/aws-nat-router/fetch-release.sh); a non-zero exit keeps the router from
# starting, so an unverified binary is never run.
#
# Environment (from the unit and /etc/aws-nat-router/env). Not AWS_NAT_ROUTER_*: that
# prefix is the router's own flag namespace (it warns about names it does not know).
#   RELEASE_TAG       release to run, e.g. v0.1.0 (required)
#   RELEASE_SHA256    expected sha256 of this machine's binary (written by install.sh). When
#                     set and the installed binary matches, nothing is downloaded, so a
#                     reboot does not depend on GitHub being reachable.
#   RELEASE_BASE_URL  releases download root, written by install.sh (e.g.
#                     https://github.com/OWNER/NAME/releases/download); assets are
#                     RELEASE_BASE_URL/RELEASE_TAG/ASSET (required)
#   RELEASE_BIN       where the binary lives (default /usr/local/bin/aws-nat-router)
#   RELEASE_ARCH      x86_64|aarch64, overrides `uname -m` (tests)
set -euo pipefail

release="${RELEASE_TAG:?RELEASE_TAG is not set: pin a release such as v0.1.0 in /etc/aws-nat-router/env}"
base_url="${RELEASE_BASE_URL:?RELEASE_BASE_URL is not set: re-run install.sh, which writes it to /etc/aws-nat-router/env}"
bin="${RELEASE_BIN:-/usr/local/bin/aws-nat-router}"
pinned="${RELEASE_SHA256:-}"

log() { echo "fetch-release: $*" >&2; }

case "${RELEASE_ARCH:-$(uname -m)}" in
  x86_64 | amd64) target=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
  *) log "Unsupported architecture \"$(uname -m)\": releases exist for x86_64 and aarch64"; exit 1 ;;
esac
asset="aws-nat-router-${target}"
url="${base_url%/}/${release}"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
# fetch URL FILE ("-" = stdout). -f: fail on HTTP errors; retries cover a network that is
# still coming up at boot; a redirect (GitHub -> its CDN) may never downgrade to plain http.
fetch() {
  curl -fsSL --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 10 \
    --proto-redir =https -o "$2" "$1"
}

expected="$pinned"
if [[ -z "$expected" ]]; then
  # No pin: learn the release's checksum from its SHA256SUMS (a small download).
  sums="$(fetch "${url}/SHA256SUMS" -)" || {
    log "Cannot download ${url}/SHA256SUMS: check network access or pin RELEASE_SHA256"
    exit 1
  }
  expected="$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' <<<"$sums")"
  [[ -n "$expected" ]] || { log "${url}/SHA256SUMS has no entry for ${asset}"; exit 1; }
fi

if [[ -f "$bin" && "$(sha_of "$bin")" == "$expected" ]]; then
  log "${bin} is ${release} (${target}): unchanged"
  exit 0
fi

# Stage next to the destination so the final mv is an atomic rename on the same file system.
staging="$(mktemp "$(dirname "$bin")/.aws-nat-router.XXXXXX")"
trap 'rm -f "$staging"' EXIT
fetch "${url}/${asset}" "$staging" || { log "Cannot download ${url}/${asset}"; exit 1; }
actual="$(sha_of "$staging")"
if [[ "$actual" != "$expected" ]]; then
  log "Checksum mismatch for ${asset} ${release}: expected ${expected}, got ${actual}; refusing to start"
  exit 1
fi
chmod 0755 "$staging"
mv -f "$staging" "$bin"
trap - EXIT
log "Installed ${asset} ${release} to ${bin}"
