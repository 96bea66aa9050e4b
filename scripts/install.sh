#!/usr/bin/env bash
# Installs aws-nat-router on a NAT instance from one of this project's GitHub releases: the
# binary for this architecture, the systemd unit, its ExecStartPre helper, the drain-at-shutdown
# unit (each sha256-verified against the release's SHA256SUMS) and /etc/aws-nat-router/env;
# then enables and (re)starts the service, and enables and starts the drain unit.
#
#   install.sh --vpc-id vpc-0123abcd [--version v0.1.0] [--repo OWNER/NAME] [--cluster-id squid]
#              [--base-url URL] [--prefix DIR] [--arch x86_64|aarch64] [--no-enable]
#
# The install.sh published with a release has that release's repository and tag stamped in
# (by scripts/stamp-release.sh): it needs only --vpc-id. From a checkout, --version is required
# and the repository is --repo, else the checkout's "origin" remote on github.com.
# --base-url is the releases download root (a mirror): assets are fetched from URL/VERSION/ASSET.
# --prefix installs under DIR instead of / (packaging, tests); systemctl is then not run.
# Idempotent: files whose content and mode already match are left alone (reported
# "unchanged", not downloaded again); every write is a temp file renamed into place.
# Exit codes: 0 installed or unchanged, 1 download or checksum failure, 2 bad input.
set -euo pipefail

# Stamped by scripts/stamp-release.sh when a release publishes this file. In a checkout they
# hold placeholders, which match neither pattern below: --repo/--version (or the remote) apply.
stamped_repo="@RELEASE_REPO@"
stamped_tag="@RELEASE_TAG@"

fail() { echo "install.sh: $*" >&2; exit 1; }
bad_input() { echo "install.sh: $*" >&2; exit 2; }
usage() { sed -n '7,8s/^# \{0,3\}//p' "$0"; exit 0; }

repo_re='^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'
tag_re='^v[0-9A-Za-z.+-]+$'

version="" repo="" vpc_id="" cluster_id="squid" base_url="" prefix="/" arch="" enable=1
while (($#)); do
  case "$1" in
    --version | --repo | --vpc-id | --cluster-id | --base-url | --prefix | --arch)
      (($# >= 2)) || bad_input "Missing value for $1: see --help"
      case "$1" in
        --version) version="$2" ;;
        --repo) repo="$2" ;;
        --vpc-id) vpc_id="$2" ;;
        --cluster-id) cluster_id="$2" ;;
        --base-url) base_url="$2" ;;
        --prefix) prefix="$2" ;;
        --arch) arch="$2" ;;
      esac
      shift 2 ;;
    --no-enable) enable=0; shift ;;
    -h | --help) usage ;;
    *) bad_input "Unknown argument \"$1\": see --help" ;;
  esac
done

src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The GitHub repository of this checkout's "origin" remote, if it is one.
origin_repo() {
  local url
  command -v git >/dev/null || return 1
  # safe.directory: reading a URL is harmless even when sudo runs us in another user's checkout.
  url="$(git -c safe.directory='*' -C "$src_dir" remote get-url origin 2>/dev/null)" || return 1
  [[ "$url" =~ ^(https://|ssh://git@|git@)github\.com[:/]([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/?$ ]] ||
    return 1
  echo "${BASH_REMATCH[2]%.git}"
}

# Values end up in an EnvironmentFile and on the router's command line: keep them plain.
if [[ -z "$version" && "$stamped_tag" =~ $tag_re ]]; then version="$stamped_tag"; fi
[[ -n "$version" ]] || bad_input "Missing --version: pass the release tag to install, such as v0.1.0"
[[ "$version" =~ $tag_re ]] || bad_input "Invalid --version \"${version}\": expected a release tag such as v0.1.0"
[[ "$vpc_id" =~ ^vpc-[0-9a-f]+$ ]] || bad_input "Invalid --vpc-id \"${vpc_id}\": expected an id such as vpc-0123abcd"
[[ "$cluster_id" =~ ^[A-Za-z0-9_.:/=+@-]+$ ]] || bad_input "Invalid --cluster-id \"${cluster_id}\": use letters, digits and _.:/=+@-"
[[ -z "$repo" || "$repo" =~ $repo_re ]] || bad_input "Invalid --repo \"${repo}\": expected OWNER/NAME of a GitHub repository"
if [[ -z "$base_url" ]]; then
  if [[ -z "$repo" && "$stamped_repo" =~ $repo_re ]]; then repo="$stamped_repo"; fi
  if [[ -z "$repo" ]]; then repo="$(origin_repo)" || repo=""; fi
  [[ -n "$repo" ]] || bad_input "No release repository: pass --repo OWNER/NAME (this checkout has no GitHub remote \"origin\"), or use the install.sh published with a release"
  base_url="https://github.com/${repo}/releases/download"
fi
base_url="${base_url%/}"
# The checksum comes from the same server as the binary, so the transport must be trusted:
# https, or plain http to loopback only (tests, local mirrors through a tunnel).
[[ "$base_url" =~ ^https://[^[:space:]]+$ || "$base_url" =~ ^http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/[^[:space:]]*)?$ ]] ||
  bad_input "Invalid --base-url \"${base_url}\": expected an https:// URL"

case "${arch:-$(uname -m)}" in
  x86_64 | amd64) target=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
  *) bad_input "Unsupported architecture \"${arch:-$(uname -m)}\": expected x86_64 or aarch64 (--arch)" ;;
esac

root="$(realpath -m "$prefix")"
live=0 # installing into the running system (/): systemctl is used
[[ "$root" == / ]] && live=1
((live == 0 || EUID == 0)) || bad_input "Installing into / needs root: run it with sudo"
root="${root%/}"
bin_path="${root}/usr/local/bin/aws-nat-router"
unit_path="${root}/etc/systemd/system/aws-nat-router.service"
drain_unit_path="${root}/etc/systemd/system/aws-nat-router-drain.service"
helper_path="${root}/usr/local/libexec/aws-nat-router/fetch-release.sh"
env_path="${root}/etc/aws-nat-router/env"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
asset="aws-nat-router-${target}"
url="${base_url}/${version}"
fetch() {
  curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 10 --proto-redir =https -o "$2" "$1" ||
    fail "Cannot download $1: nothing was installed"
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Verify everything before installing anything.
fetch "${url}/SHA256SUMS" "${work}/SHA256SUMS"
# verified NAME INSTALLED: the release's NAME, checked against SHA256SUMS, as ${work}/NAME.
# An installed file that already matches is reused: a re-run downloads only SHA256SUMS.
verified() {
  local name="$1" installed="$2" expected actual
  expected="$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1 }' "${work}/SHA256SUMS")"
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "${url}/SHA256SUMS has no entry for ${name}: nothing was installed"
  if [[ -f "$installed" && "$(sha_of "$installed")" == "$expected" ]]; then
    cp -p "$installed" "${work}/${name}"
  else
    fetch "${url}/${name}" "${work}/${name}"
    actual="$(sha_of "${work}/${name}")"
    [[ "$actual" == "$expected" ]] ||
      fail "Checksum mismatch for ${name} (${version}): expected ${expected}, got ${actual}; nothing was installed"
  fi
}
verified "$asset" "$bin_path"
verified aws-nat-router.service "$unit_path"
verified aws-nat-router-drain.service "$drain_unit_path"
verified fetch-release.sh "$helper_path"

cat >"${work}/env" <<EOF
# Written by install.sh; read by aws-nat-router.service. Re-run install.sh to change it.
VPC_ID=${vpc_id}
CLUSTER_ID=${cluster_id}
RELEASE_TAG=${version}
RELEASE_BASE_URL=${base_url}
RELEASE_SHA256=$(sha_of "${work}/${asset}")
EOF

changed=0
# put SRC DEST MODE: atomically install SRC as DEST unless content and mode already match.
put() {
  local src="$1" dest="$2" mode="$3" tmp
  if [[ -f "$dest" ]] && cmp -s "$src" "$dest" && [[ "$(stat -c %a "$dest")" == "${mode#0}" ]]; then
    echo "unchanged ${dest}"
    return
  fi
  install -d -m 0755 "$(dirname "$dest")"
  tmp="$(mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX")"
  if ! { cp "$src" "$tmp" && chmod "$mode" "$tmp" && mv -f "$tmp" "$dest"; }; then
    rm -f "$tmp"
    fail "Cannot write ${dest}"
  fi
  echo "installed ${dest}"
  changed=1
}
put "${work}/${asset}" "$bin_path" 0755
put "${work}/fetch-release.sh" "$helper_path" 0755
put "${work}/env" "$env_path" 0644
put "${work}/aws-nat-router.service" "$unit_path" 0644
put "${work}/aws-nat-router-drain.service" "$drain_unit_path" 0644

if ((changed == 0)); then
  echo "aws-nat-router ${version} (${target}) unchanged"
else
  echo "aws-nat-router ${version} (${target}) installed"
fi
if ((live == 1 && enable == 1)); then
  systemctl daemon-reload
  systemctl enable aws-nat-router.service aws-nat-router-drain.service
  # The drain unit only acts when stopped (at shutdown or reboot): starting it moves nothing.
  systemctl start aws-nat-router-drain.service
  # Restart only when something changed; "start" is a no-op for a running service.
  if ((changed == 1)); then systemctl restart aws-nat-router.service; else systemctl start aws-nat-router.service; fi
fi
