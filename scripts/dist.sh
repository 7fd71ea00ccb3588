#!/usr/bin/env bash
# Release build: the archives for one platform, and the krew manifest.
#
#   scripts/dist.sh                      # build for this machine, write dist/
#   scripts/dist.sh --bin PATH [--target OS/ARCH]   # package a binary built elsewhere
#   scripts/dist.sh --checksums DIR --require-all-checksums   # the final manifest
#
# Writes into --out (default dist/):
#   kubectl-persist-<version>-<os>-<arch>.tar.gz     kubectl-persist[.exe],
#       kubectl_complete-persist[.cmd], LICENSE, README.md, CHANGELOG.md, at the
#       archive's root (krew installs it; so can a user, by hand)
#   kubectl-persist-<version>-<os>-<arch>.tar.gz.sha256
#   persist-<version>-<os>-<arch>.tgz                the Helm 4 plugin, with the
#       binary in its bin/ (made by `helm plugin package`, which needs Helm 4:
#       HELM4_BIN, or a `helm` on PATH that is Helm 4, else skipped with a note).
#       The name must start with persist-<version>: `helm plugin install` takes
#       the plugin's folder name from the part of the file name before it.
#   persist.yaml                                     the krew manifest
#
# The krew manifest is plugin-manifest/krew/persist.yaml with @VERSION@ and
# each platform's @SHA256_<OS>_<ARCH>@ filled in. A machine builds only its own
# platform: the checksums of the others come from
# kubectl-persist-<version>-<os>-<arch>.tar.gz.sha256 files found in the output
# folder or in --checksums DIR (each platform's run of this script leaves one).
# Platforms without one keep their placeholder, which krew refuses as a sha256,
# and are listed on stderr; --require-all-checksums makes that an error.
#
# The archives are reproducible: files sorted, owner 0, modification time
# SOURCE_DATE_EPOCH (default: the last commit's time), gzip without a name or
# time (with GNU tar; other tars produce equivalent but not byte-equal files).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "dist: error: $*" >&2; exit 1; }

bin="" target="" out="dist" checksums="" require_all=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --target) target="${2:?--target needs OS/ARCH}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --checksums) checksums="${2:?--checksums needs a folder}"; shift 2 ;;
    --require-all-checksums) require_all=true; shift ;;
    -h|--help) usage ;;
    *) echo "dist: unknown argument $1" >&2; usage ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[[ -n "$version" ]] || die "no version in Cargo.toml"
helm_version=$(sed -n 's/^version: *//p' plugin-manifest/persist/plugin.yaml)
[[ "$helm_version" == "$version" ]] ||
  die "plugin-manifest/persist/plugin.yaml has version $helm_version, Cargo.toml $version: make them equal"

host_os() {
  case "$(uname -s)" in
    Linux) echo linux ;;
    Darwin) echo darwin ;;
    MINGW*|MSYS*|CYGWIN*) echo windows ;;
    *) die "unknown OS $(uname -s); pass --target OS/ARCH" ;;
  esac
}
host_arch() {
  case "$(uname -m)" in
    x86_64|amd64) echo amd64 ;;
    aarch64|arm64) echo arm64 ;;
    *) die "unknown architecture $(uname -m); pass --target OS/ARCH" ;;
  esac
}
host="$(host_os)/$(host_arch)"
target="${target:-$host}"
os="${target%/*}" arch="${target#*/}"
case "$os/$arch" in
  linux/amd64|linux/arm64|darwin/amd64|darwin/arm64|windows/amd64|windows/arm64) ;;
  *) die "--target $target: expected linux|darwin|windows / amd64|arm64" ;;
esac
exe=""; [[ "$os" == windows ]] && exe=".exe"

if [[ -z "$bin" ]]; then
  [[ "$target" == "$host" ]] || die "--target $target is not this machine ($host): build it there, or pass --bin"
  echo "dist: cargo build --release --locked" >&2
  cargo build --release --locked >&2
  bin="${CARGO_TARGET_DIR:-target}/release/kubectl-persist$exe"
fi
[[ -f "$bin" ]] || die "$bin: no such binary"
if [[ "$target" == "$host" ]]; then
  got=$("$bin" --version)
  [[ "$got" == "kubectl-persist $version "* ]] || die "$bin --version says '$got', expected version $version"
fi

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# Pack the files of folder $1 (sorted, at the archive's root) into $2.
pack() {
  local dir="$1" archive="$2"
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
  if tar --version 2>/dev/null | grep -q 'GNU tar'; then
    (cd "$dir" && LC_ALL=C tar --sort=name --owner=0 --group=0 --numeric-owner \
      --mtime="@$SOURCE_DATE_EPOCH" -cf - -- *) | gzip -n >"$archive"
  else
    (cd "$dir" && tar -cf - -- *) | gzip -n >"$archive"
  fi
}

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The plugin archive.
name="kubectl-persist-$version-$os-$arch"
mkdir "$stage/plugin"
install -m 0755 "$bin" "$stage/plugin/kubectl-persist$exe"
if [[ "$os" == windows ]]; then
  install -m 0644 plugin-manifest/kubectl/kubectl_complete-persist.cmd "$stage/plugin/"
else
  install -m 0755 plugin-manifest/kubectl/kubectl_complete-persist "$stage/plugin/"
fi
install -m 0644 LICENSE README.md CHANGELOG.md "$stage/plugin/"
pack "$stage/plugin" "$out/$name.tar.gz"
sum=$(sha256 "$out/$name.tar.gz")
echo "$sum  $name.tar.gz" >"$out/$name.tar.gz.sha256"
echo "dist: $out/$name.tar.gz  sha256 $sum" >&2

# The Helm 4 plugin, with this platform's binary.
helm4="${HELM4_BIN:-}"
if [[ -z "$helm4" ]] && command -v helm >/dev/null && helm version --short 2>/dev/null | grep -q '^v4\.'; then
  helm4=helm
fi
if [[ -n "$helm4" ]]; then
  mkdir -p "$stage/helm/persist/bin" "$stage/helm/out" "$stage/helm/home"
  cp plugin-manifest/persist/plugin.yaml plugin-manifest/persist/kubectl-persist.sh "$stage/helm/persist/"
  install -m 0755 "$bin" "$stage/helm/persist/bin/kubectl-persist$exe"
  XDG_DATA_HOME="$stage/helm/home" XDG_CONFIG_HOME="$stage/helm/home" XDG_CACHE_HOME="$stage/helm/home" \
    "$helm4" plugin package "$stage/helm/persist" --sign=false -d "$stage/helm/out" >&2
  mv "$stage/helm/out/persist-$version.tgz" "$out/persist-$version-$os-$arch.tgz"
  (cd "$out" && echo "$(sha256 "persist-$version-$os-$arch.tgz")  persist-$version-$os-$arch.tgz" \
    >"persist-$version-$os-$arch.tgz.sha256")
  echo "dist: $out/persist-$version-$os-$arch.tgz" >&2
else
  echo "dist: note: Helm 4 not found (HELM4_BIN, or helm on PATH): persist-$version-$os-$arch.tgz not made" >&2
fi

# The krew manifest.
manifest=$(sed "s/@VERSION@/$version/g" plugin-manifest/krew/persist.yaml)
missing=()
for p in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  file="kubectl-persist-$version-${p%/*}-${p#*/}.tar.gz.sha256"
  key="@SHA256_$(echo "${p%/*}_${p#*/}" | tr '[:lower:]' '[:upper:]')@"
  hex=""
  for dir in "$out" ${checksums:+"$checksums"}; do
    if [[ -f "$dir/$file" ]]; then
      hex=$(cut -d' ' -f1 "$dir/$file")
      break
    fi
  done
  if [[ "$hex" =~ ^[0-9a-f]{64}$ ]]; then
    manifest=${manifest//"$key"/$hex}
  else
    missing+=("$p")
  fi
done
# Drop the template's header comment: the output is the manifest itself.
printf '%s\n' "$manifest" | sed '/^apiVersion:/,$!d' >"$out/persist.yaml"
echo "dist: $out/persist.yaml" >&2
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "dist: $out/persist.yaml has no sha256 yet for: ${missing[*]} (placeholders left; run this script on those platforms, or pass --checksums DIR)" >&2
  $require_all && die "--require-all-checksums: ${#missing[@]} platform(s) lack a checksum"
fi
exit 0
