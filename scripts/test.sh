#!/usr/bin/env bash
# README's test command: installs, builds, runs every test. Each integration
# test starts its own PostgreSQL 15 in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The fuzzers' compiler and runtime (tests/fuzz/run.sh), Debian packages too.
fuzz_packages=(clang-14 libclang-rt-14-dev)
missing_fuzz=()
for p in "${fuzz_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_fuzz+=("$p")
done
if [ ${#missing_fuzz[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "test: installing ${missing_fuzz[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing_fuzz[@]}" >/dev/null
fi
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "${TEST_JOBS:-2}" "$@"
# Then each libFuzzer harness for a bounded time (FUZZ_SECONDS, default 60;
# 0 skips) over its corpus, in its own clang tree (build-fuzz).
cd - >/dev/null
tests/fuzz/run.sh
