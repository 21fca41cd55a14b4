#!/usr/bin/env bash
# A long run of the status-enum schema fuzzer (tests/migration_fuzz_test.cc):
#
#   scripts/fuzz-migration.sh FIRST COUNT
#
# builds the test, then generates the stores of seeds FIRST .. FIRST+COUNT-1,
# each refused exactly or carried through every phase and rollback while
# writers change it (about 4 s a store on 2 cores), and prints one line per
# store, a report for each failing seed and the summary line. A failing seed
# is reproduced alone with
#
#   MIGRATION_FUZZ_SEED=N build/tests/migration_fuzz_test --gtest_filter='Fuzz/*'
#
# (KEEP_FUZZ_DB=1 KEEP_PG=1 keep the store's database and the server's
# directory, which holds the store's SQL as fuzz-N.sql). The full output is
# also written to build/migration-fuzz-FIRST-COUNT.log. Exit status: 0 when
# every seed passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 FIRST COUNT   (seeds FIRST .. FIRST+COUNT-1)" >&2
  exit 2
fi
build_dir=${BUILD_DIR:-build}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  scripts/build.sh >/dev/null
fi
cmake --build "$build_dir" --target migration_fuzz_test migrator -j "${JOBS:-$(nproc)}" >/dev/null
log="$build_dir/migration-fuzz-$1-$2.log"
status=0
MIGRATION_FUZZ_SEEDS="$1:$2" "$build_dir/tests/migration_fuzz_test" --gtest_filter='Fuzz/*' \
  >"$log" 2>&1 || status=1
# The store lines, the failure reports and the summary; gtest's own lines go.
grep -v -E '^\[( RUN|       OK|  FAILED|----------|==========|  PASSED) *\] ' "$log" |
  grep -v -E '^(Running main|Note: Google Test filter|[0-9]+ FAILED TESTS?$|Failed$|.*: Failure$|$)' ||
  true
echo "full output: $log"
exit $status
