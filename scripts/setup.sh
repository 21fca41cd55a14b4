#!/usr/bin/env bash
# Installs what the project builds and runs with, from Debian 12's packages.
# Idempotent: does nothing when everything is there. Runs apt-get as root, or
# through sudo.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev grpc-proto
  libabsl-dev libpqxx-dev libssl-dev libsodium-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev gdb
  jq  # picks fields out of answers in README's examples (tests/readme_examples_test.sh)
  postgresql-15 postgresql-client-15
  postgresql-15-auto-failover  # pg_autoctl: the failover test (tests/failover_test)
  gnuplot-nox  # the benchmarks' plots (bench/run-all and their smoke tests)
  prometheus  # promtool: tests/monitoring_config_test checks deploy/monitoring's rules
  python3 universal-ctags  # scripts/check-structure.py (the structure_check tests)
)

# The manifest check (tests/deploy_check) runs on Node.js: Debian's, unless
# the machine has one.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
# It renders deploy/'s kustomizations with `kubectl kustomize`: Debian's
# kubectl (kubernetes-client, 1.20, kustomize v2.0.3: what the manifests are
# written for), unless the machine has a kubectl (a newer one renders them
# too).
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
else
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: done"
fi

# The manifest check's npm packages (pinned by its package-lock.json), into
# the build directory, as the tests expect them; a no-op once installed.
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
"$root/tests/deploy_check/install.sh" "$build_dir/deploy-check"
