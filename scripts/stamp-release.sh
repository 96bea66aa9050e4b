#!/usr/bin/env bash
# Adds a release's own assets next to its binaries: install.sh, fetch-release.sh,
# aws-nat-router.service and aws-nat-router-drain.service, with the repository and tag stamped
# in, then rewrites SHA256SUMS over every file of the directory. The release workflow runs it with GITHUB_REPOSITORY and
# GITHUB_REF_NAME: that is the one place the repository is named.
#
#   stamp-release.sh --repo OWNER/NAME --tag v0.1.0 --out-dir dist [--notes FILE]
#
# --notes writes the one line that installs this release (it heads the release notes).
set -euo pipefail

bad_input() { echo "stamp-release.sh: $*" >&2; exit 2; }

repo="" tag="" out_dir="" notes=""
while (($#)); do
  case "$1" in
    --repo | --tag | --out-dir | --notes)
      (($# >= 2)) || bad_input "Missing value for $1: see the header of $0"
      case "$1" in
        --repo) repo="$2" ;;
        --tag) tag="$2" ;;
        --out-dir) out_dir="$2" ;;
        --notes) notes="$2" ;;
      esac
      shift 2 ;;
    *) bad_input "Unknown argument \"$1\": see the header of $0" ;;
  esac
done
[[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || bad_input "Invalid --repo \"${repo}\": expected OWNER/NAME"
[[ "$tag" =~ ^v[0-9A-Za-z.+-]+$ ]] || bad_input "Invalid --tag \"${tag}\": expected a release tag such as v0.1.0"
[[ -d "$out_dir" ]] || bad_input "Invalid --out-dir \"${out_dir}\": not a directory"

src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for name in install.sh fetch-release.sh aws-nat-router.service aws-nat-router-drain.service; do
  sed -e "s|@RELEASE_REPO@|${repo}|g" -e "s|@RELEASE_TAG@|${tag}|g" "${src_dir}/${name}" >"${out_dir}/${name}"
  if grep -n '@RELEASE_[A-Z]*@' "${out_dir}/${name}" >&2; then
    echo "stamp-release.sh: ${name} still holds a placeholder (above)" >&2
    exit 1
  fi
done
chmod 0755 "${out_dir}/install.sh" "${out_dir}/fetch-release.sh"
chmod 0644 "${out_dir}/aws-nat-router.service" "${out_dir}/aws-nat-router-drain.service"

sums="$(
  cd "$out_dir"
  find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort |
    xargs -d '\n' sha256sum --
)"
printf '%s\n' "$sums" >"${out_dir}/SHA256SUMS"

if [[ -n "$notes" ]]; then
  cat >"$notes" <<EOF
Install on a NAT instance (x86_64 or aarch64; needs curl and sha256sum), with your VPC's id:

\`\`\`sh
curl -fsSL --remote-name-all https://github.com/${repo}/releases/download/${tag}/{SHA256SUMS,install.sh} && grep ' install.sh$' SHA256SUMS | sha256sum -c - && sudo bash install.sh --vpc-id vpc-0123456789abcdef0
\`\`\`
EOF
fi
echo "Stamped ${repo} ${tag} into ${out_dir}; SHA256SUMS covers $(wc -l <"${out_dir}/SHA256SUMS") files" >&2
