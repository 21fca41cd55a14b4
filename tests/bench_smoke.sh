#!/usr/bin/env bash
# A benchmark at a tiny size, as a test: it must run to the end (exit 0),
# print at least one FIGURE line for bench/run-all's table, and write every
# plot it names (non-empty SVG and PNG). The figures themselves are not
# judged here: speed is shown by bench/run-all, never asserted in a test.
#   bench_smoke.sh PLOT_DIR PLOTS BINARY ARGS...   (PLOTS: space-separated
#   basenames expected in PLOT_DIR, or "")
set -uo pipefail
plot_dir=$1 plots=$2
shift 2
rm -rf "$plot_dir" && mkdir -p "$plot_dir"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$@" >"$log" 2>&1; then
  echo "bench_smoke: $* exited non-zero:"; tail -40 "$log"; exit 1
fi
if ! grep -q '^FIGURE|' "$log"; then
  echo "bench_smoke: $1 printed no FIGURE line:"; tail -40 "$log"; exit 1
fi
grep '^FIGURE|' "$log"
for p in $plots; do
  for ext in svg png; do
    if [ ! -s "$plot_dir/$p.$ext" ]; then
      echo "bench_smoke: $1 did not write $plot_dir/$p.$ext"; ls -la "$plot_dir"; exit 1
    fi
  done
done
echo "bench_smoke: $(basename "$1") ok"
