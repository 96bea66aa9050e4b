#!/usr/bin/env bash
# Installs aws-nat-router on a NAT instance: the release binary for this architecture
# (sha256-verified against the release's SHA256SUMS), the systemd unit, its ExecStartPre
# helper and /etc/aws-nat-router/env; then enables and (re)starts the service.
#
#   install.sh --version v0.1.0 --vpc-id vpc-0123abcd [--cluster-id squid] [--base-url URL]
#              [--prefix DIR] [--arch x86_64|aarch64] [--no-enable]
#
# --base-url is the releases download root: assets are fetched from URL/VERSION/ASSET.
# --prefix installs under DIR instead of / (packaging, tests); systemctl is then not run.
# Run it from a checkout of the release tag: the unit and helper are taken from this
# script's directory. Idempotent: files whose content and mode already match are left alone
# (reported "unchanged"); every write is a temp file renamed into place.
set -euo pipefail

# The GitHub repository releases are published from (override for forks).
RELEASE_REPO="${RELEASE_REPO:-so0k/aws-nat-router}"

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '6,7s/^# \{0,3\}//p' "$0"; exit 0; }

version="" vpc_id="" cluster_id="squid" base_url="" prefix="/" arch="" enable=1
while (($#)); do
  case "$1" in
    --version | --vpc-id | --cluster-id | --base-url | --prefix | --arch)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --version) version="$2" ;;
        --vpc-id) vpc_id="$2" ;;
        --cluster-id) cluster_id="$2" ;;
        --base-url) base_url="$2" ;;
        --prefix) prefix="$2" ;;
        --arch) arch="$2" ;;
      esac
      shift 2 ;;
    --no-enable) enable=0; shift ;;
    -h | --help) usage ;;
    *) die "Unknown argument \"$1\": see --help" ;;
  esac
done

# Values end up in an EnvironmentFile and on the router's command line: keep them plain.
[[ "$version" =~ ^v[0-9A-Za-z.+-]+$ ]] || die "Invalid --version \"${version}\": expected a release tag such as v0.1.0"
[[ "$vpc_id" =~ ^vpc-[0-9a-f]+$ ]] || die "Invalid --vpc-id \"${vpc_id}\": expected an id such as vpc-0123abcd"
[[ "$cluster_id" =~ ^[A-Za-z0-9_.:/=+@-]+$ ]] || die "Invalid --cluster-id \"${cluster_id}\": use letters, digits and _.:/=+@-"
base_url="${base_url:-https://github.com/${RELEASE_REPO}/releases/download}"
base_url="${base_url%/}"
# The checksum comes from the same server as the binary, so the transport must be trusted:
# https, or plain http to loopback only (tests, local mirrors through a tunnel).
[[ "$base_url" =~ ^https://[^[:space:]]+$ || "$base_url" =~ ^http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/[^[:space:]]*)?$ ]] ||
  die "Invalid --base-url \"${base_url}\": expected an https:// URL"

case "${arch:-$(uname -m)}" in
  x86_64 | amd64) target=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
  *) die "Unsupported architecture \"${arch:-$(uname -m)}\": expected x86_64 or aarch64 (--arch)" ;;
esac

src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in aws-nat-router.service fetch-release.sh; do
  [[ -f "${src_dir}/${f}" ]] || die "Missing ${src_dir}/${f}: run install.sh from a checkout of the release"
done

root="$(realpath -m "$prefix")"
live=0 # installing into the running system (/): systemctl is used
[[ "$root" == / ]] && live=1
((live == 0 || EUID == 0)) || die "Installing into / needs root: run it with sudo"
root="${root%/}"
bin_path="${root}/usr/local/bin/aws-nat-router"
unit_path="${root}/etc/systemd/system/aws-nat-router.service"
helper_path="${root}/usr/local/libexec/aws-nat-router/fetch-release.sh"
env_path="${root}/etc/aws-nat-router/env"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
asset="aws-nat-router-${target}"
url="${base_url}/${version}"
fetch() {
  curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 10 --proto-redir =https -o "$2" "$1" ||
    die "Cannot download $1; nothing was installed"
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Verify everything before installing anything.
fetch "${url}/SHA256SUMS" "${work}/SHA256SUMS"
expected="$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "${work}/SHA256SUMS")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "${url}/SHA256SUMS has no entry for ${asset}; nothing was installed"
if [[ -f "$bin_path" && "$(sha_of "$bin_path")" == "$expected" ]]; then
  cp -p "$bin_path" "${work}/${asset}" # already the right binary: skip the ~100 MB download
else
  fetch "${url}/${asset}" "${work}/${asset}"
  actual="$(sha_of "${work}/${asset}")"
  [[ "$actual" == "$expected" ]] ||
    die "Checksum mismatch for ${asset} (${version}): expected ${expected}, got ${actual}; nothing was installed"
fi

cat >"${work}/env" <<EOF
# Written by install.sh; read by aws-nat-router.service. Re-run install.sh to change it.
VPC_ID=${vpc_id}
CLUSTER_ID=${cluster_id}
RELEASE_TAG=${version}
RELEASE_BASE_URL=${base_url}
RELEASE_SHA256=${expected}
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
    die "Cannot write ${dest}"
  fi
  echo "installed ${dest}"
  changed=1
}
put "${work}/${asset}" "$bin_path" 0755
put "${src_dir}/fetch-release.sh" "$helper_path" 0755
put "${work}/env" "$env_path" 0644
put "${src_dir}/aws-nat-router.service" "$unit_path" 0644

if ((changed == 0)); then
  echo "aws-nat-router ${version} (${target}) unchanged"
else
  echo "aws-nat-router ${version} (${target}) installed"
fi
if ((live == 1 && enable == 1)); then
  systemctl daemon-reload
  systemctl enable aws-nat-router.service
  # Restart only when something changed; "start" is a no-op for a running service.
  if ((changed == 1)); then systemctl restart aws-nat-router.service; else systemctl start aws-nat-router.service; fi
fi
