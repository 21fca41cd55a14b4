#!/usr/bin/env bash
# Fuzzing: libFuzzer harnesses for the input checks (issue 8).
#
#   fuzz_request_checks    booking API request validation (request_checks.h)
#   fuzz_metadata_binary   MetadataToJson / IsValidUtf8 on a binary Struct
#   fuzz_metadata_json     MetadataToJson / IsValidUtf8 on a caller's JSON
#   fuzz_ingest_encoding   ValidateEvent / EncodeEvents / JsonArray (history)
#
# Usage: tests/fuzz/run.sh [target...]   (default: all four)
#   FUZZ_SECONDS   seconds per harness (default 60; 0 skips fuzzing)
#   FUZZ_BUILD_DIR clang tree (default build-fuzz; never build/ or build-asan/)
#   FUZZ_JOBS      build jobs (default 2)
#
# Needs Debian's clang-14 and libclang-rt-14-dev. Builds the harnesses with
# -fsanitize=fuzzer,address,undefined (cmake -DBOOKING_FUZZ=ON, which builds
# nothing else), then runs each over a temporary copy of its corpus,
# tests/fuzz/corpus/<target>/, so what it discovers is not committed by
# accident. Every file in a corpus directory is run first: the hand-made seeds
# (seed_*, see make_seeds.sh) and every crash a fuzzer ever found, kept as a
# regression. Exits non-zero on any finding (crash, sanitizer report, failed
# invariant, timeout, memory limit), naming the input that caused it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
if [ "$seconds" = 0 ]; then
  echo "fuzz: skipped (FUZZ_SECONDS=0)"
  exit 0
fi
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request_checks metadata_binary metadata_json ingest_encoding)

cmake -S . -B "$build_dir" -DBOOKING_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build_dir" --target fuzzers -j "${FUZZ_JOBS:-2}"

work=$(mktemp -d "${TMPDIR:-/tmp}/booking-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$root/$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
failed=()
for t in "${targets[@]}"; do
  bin="$build_dir/tests/fuzz/fuzz_$t"
  seeds="tests/fuzz/corpus/$t"
  [ -x "$bin" ] && [ -d "$seeds" ] || { echo "fuzz: no harness or corpus for '$t'" >&2; exit 2; }
  mkdir -p "$work/$t" "$artifacts/$t"
  cp "$seeds"/* "$work/$t/"
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$artifacts/$t/")
  [ "$t" = metadata_json ] && opts+=(-dict=tests/fuzz/json.dict)
  echo "fuzz: $t for ${seconds}s over $seeds ($(ls "$seeds" | wc -l) inputs)"
  if "$bin" "${opts[@]}" "$work/$t" >"$artifacts/$t.log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$artifacts/$t.log" |
      sed 's/^/  /' || true
  else
    failed+=("$t")
    tail -n 60 "$artifacts/$t.log"
    echo "fuzz: FINDING in $t; the input that caused it:" >&2
    grep -E '^(Test unit written to|artifact_prefix=)' "$artifacts/$t.log" | sed 's/^/  /' >&2 || true
    echo "fuzz: reproduce with: $bin <input>. Keep the input as a regression:" >&2
    echo "  cp <input> tests/fuzz/corpus/$t/crash-<what it shows> (and fix the code)" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]} (inputs under $artifacts)" >&2
  exit 1
fi
echo "fuzz: no finding (${targets[*]}, ${seconds}s each)"
