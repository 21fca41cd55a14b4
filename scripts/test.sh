#!/usr/bin/env bash
# README's test command: installs, builds, runs every test. Each integration
# test starts its own PostgreSQL 15 in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "${TEST_JOBS:-2}" "$@"
