#!/usr/bin/env bash
# Builds the OCI images the manifests run (deploy/images.env: names and tag)
# into build/images/<name>/ (an OCI layout) and build/images/<name>.oci.tar,
# from Debian 12 packages only: mmdebstrap extracts just the runtime libraries
# the binary links (found from the binary with ldd + dpkg -S, never listed by
# hand) and umoci makes the image: a libraries layer, a binary layer, user
# IMAGE_UID, no shell, no package manager. Needs root (or sudo) for apt-get and
# mmdebstrap; downloads nothing but Debian packages. Prints each image's size.
#
#   deploy/build-images.sh            # all of IMAGE_NAMES
#   deploy/build-images.sh migrator   # one
#
# Push or load under the name the manifests run (IMAGE_REGISTRY/
# IMAGE_REPOSITORY/<name>:IMAGE_TAG) with skopeo (Debian package), e.g.
#   skopeo copy oci:build/images/booking-service:0.11.0 docker://localhost:5000/booking-status/booking-service:0.11.0
# or into a local cluster's nodes (deploy/README.md, "A local cluster").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/images.env disable=SC1091
. deploy/images.env
build_dir=${BUILD_DIR:-build}
out_dir=$build_dir/images
suite=bookworm
mirrors=("deb http://deb.debian.org/debian $suite main"
         "deb http://deb.debian.org/debian $suite-updates main"
         "deb http://deb.debian.org/debian-security $suite-security main")
uid=$IMAGE_UID
names=("$@")
[ ${#names[@]} -gt 0 ] || read -r -a names <<<"$IMAGE_NAMES"

# The binaries, as scripts/build.sh builds them (only these targets), as the
# caller; the rest as root.
if [ -z "${BUILD_IMAGES_AS_ROOT:-}" ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target "${names[@]}"
fi
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "build-images: needs root or sudo" >&2; exit 1; }
  exec sudo BUILD_DIR="$build_dir" BUILD_IMAGES_AS_ROOT=1 "$0" "${names[@]}"
fi
tools=(mmdebstrap umoci binutils)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-images: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian packages holding the libraries BIN links directly (apt adds what
# they depend on). dpkg -S knows each file under one of its /usr-merged paths.
runtime_packages() {
  local bin=$1 soname path pkg
  for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldd "$bin" | awk -v l="$soname" '$1 == l && $3 ~ /^\// {print $3}')
    [ -n "$path" ] || { echo "build-images: $bin: $soname not found" >&2; return 1; }
    path=$(readlink -f "$path")
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null ||
          dpkg -S "/usr$path" 2>/dev/null) ||
      { echo "build-images: $path belongs to no package" >&2; return 1; }
    echo "${pkg%%:*}"
  done | sort -u
}

build_image() {
  local name=$1 work="$out_dir/.work-$1" layout="$out_dir/$1" ref
  local bin="$build_dir/$name/$name" packages
  ref="$layout:$IMAGE_TAG"
  packages=$(runtime_packages "$bin" | paste -sd, -)
  echo "build-images: $name: $packages"
  rm -rf "$work" "$layout" "$out_dir/$name.oci.tar"
  mkdir -p "$work/bin"
  # extract: the packages' files without their maintainer scripts (no dpkg,
  # no shell in the image); deploy/image-root.sh trims and completes it.
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s) \
    mmdebstrap --quiet --variant=extract --mode=root --include="$packages" \
      --extract-hook="bash '$PWD/deploy/image-root.sh' status \"\$1\"" \
      "$suite" "$work/root" "${mirrors[@]}"
  objcopy --strip-debug "$bin" "$work/bin/$name"
  deploy/image-root.sh finish "$work/root" "$uid" "$work/bin/$name"

  umoci init --layout "$layout"
  umoci new --image "$ref"
  umoci insert --image "$ref" --history.created_by="mmdebstrap --variant=extract $packages" \
    "$work/root" /
  umoci insert --image "$ref" --history.created_by="$name (stripped)" \
    "$work/bin/$name" "/usr/local/bin/$name"
  umoci config --image "$ref" --config.user="$uid:$uid" --config.workingdir=/ \
    --config.entrypoint="/usr/local/bin/$name" --config.env=PATH=/usr/local/bin \
    --config.label=org.opencontainers.image.title="$name" \
    --config.label=org.opencontainers.image.version="$IMAGE_TAG" \
    --config.label=org.opencontainers.image.revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --config.label=org.opencontainers.image.source="booking-status" \
    --config.label=org.opencontainers.image.base.name="debian:$suite (mmdebstrap extract: $packages)" \
    --config.label=org.opencontainers.image.description="$name of the booking status service pair"
  umoci gc --layout "$layout"
  # The image as a node unpacks it runs its binary as its user: every
  # library is there.
  umoci unpack --image "$ref" "$work/check" >/dev/null
  chroot --userspec="$uid:$uid" "$work/check/rootfs" "/usr/local/bin/$name" --version >/dev/null ||
    { echo "build-images: $name does not start in its image" >&2; return 1; }
  sizes+=("$(printf '  %s/%s:%s  %s compressed (pulled), %s unpacked  %s' \
    "$IMAGE_REPOSITORY" "$name" "$IMAGE_TAG" "$(du -sh --apparent-size "$layout/blobs" | cut -f1)" \
    "$(du -sh --apparent-size "$work/check/rootfs" | cut -f1)" "$out_dir/$name.oci.tar")")
  tar -C "$layout" -cf "$out_dir/$name.oci.tar" .
  # Under sudo: the caller's, like the rest of the build directory.
  [ -z "${SUDO_UID:-}" ] || chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$layout" "$out_dir/$name.oci.tar"
  rm -rf "$work"
}

mkdir -p "$out_dir"
sizes=()
for name in "${names[@]}"; do build_image "$name"; done
echo "build-images: images:"
printf '%s\n' "${sizes[@]}"
