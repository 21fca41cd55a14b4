#!/usr/bin/env bash
# README's examples, run as written (issue 23). scripts/run.sh starts its
# stack beside any of yours (tests/support/readme_stack.sh); then every
# indented block README marks with a line `<!-- readme-example -->` right
# before it runs, in README's order, in one bash (`set -euo pipefail`, as a
# shell stopping at the first failure; a variable one block sets, such as
# the booking id, is there for the next), with README's ports and .local/
# mapped to this stack's and nothing else changed. Every block must exit 0
# and print what it is there to show (the expectations below).
source "$(dirname "$0")/support/readme_stack.sh"

mkdir "$work/blocks" "$work/out"
awk -v dir="$work/blocks" '
  /^<!-- readme-example -->$/ { n++; file = sprintf("%s/%02d.sh", dir, n); grab = 1; next }
  grab && (/^    / || /^$/) { print > file; next }
  { grab = 0 }' README.md
blocks=("$work"/blocks/*.sh)
[ -f "${blocks[0]}" ] || fail "README marks no block with <!-- readme-example -->"

# One script: each block's stdout to out/N.out, its stderr (with bash's
# trace of each command) to out/N.err.
{
  echo 'set -euo pipefail -x'
  for b in "${blocks[@]}"; do
    n=$(basename "$b" .sh)
    grep -q '[^[:space:]]' "$b" || fail "README's example block $n is empty"
    echo "exec >'$work/out/$n.out' 2>'$work/out/$n.err'"
    map_to_stack <"$b"
  done
} >"$work/examples.sh"

run_stack
bash "$work/examples.sh" </dev/null || {
  rc=$?
  last=$(basename "$(ls "$work"/out/*.out | tail -1)" .out)
  fail_files=("$work/blocks/$last.sh" "$work/out/$last.out" "$work/out/$last.err")
  fail "README's example block $last (below) exited $rc"
}

# expect [--stderr] TEXT REGEX...: the first block holding TEXT printed a
# line matching each extended REGEX on stdout (on stderr, bash's trace of its
# commands left out).
expect() {
  local stream=out
  [ "$1" != --stderr ] || { stream=err; shift; }
  local text=$1 block n
  shift
  block=$(grep -lF -- "$text" "${blocks[@]}" | head -1)
  [ -n "$block" ] || fail "no README example block holds \"$text\""
  n=$(basename "$block" .sh)
  fail_files=("$block" "$work/out/$n.out" "$work/out/$n.err")
  for re in "$@"; do
    grep -v '^+' "$work/out/$n.$stream" | grep -qE -- "$re" ||
      fail "README's block $n printed no line matching /$re/ on std$stream"
  done
  echo "ok: block $n ($text)"
}

expect ' list' '^booking\.v1\.BookingService$' \
  '^grpc\.health\.v1\.Health$' '^grpc\.reflection\.v1\.ServerReflection$'
expect 'Health/Check' '"status": "SERVING"'
expect 'BookingService/CreateBooking' '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
expect 'BookingService/ChangeStatus' '"changed": true' '"status": "PICKUP_ASSIGNED"'
expect 'HistoryService/WatchHistory' '"resumeToken": ' '"toStatus": "PICKUP_ASSIGNED"'
expect 'HistoryService/GetBookingHistory' '"toStatus": "PICKUP_ASSIGNED"' \
  '"changedBy": "demo-dispatcher"' '"driver": "d-7"'
expect 'HistoryService/ListHistory' '"changedBy": "demo-dispatcher"' \
  '"toStatus": "PICKUP_ASSIGNED"'
expect '"targetStatus":"DELIVERED"' '^exit 73$'
expect --stderr '"targetStatus":"DELIVERED"' '^  Code: FailedPrecondition$' \
  '"reason":"ILLEGAL_TRANSITION"' '"type":"ALLOWED_NEXT_STATUS"'
trace=4bf92f3577b34da6a3ce929d0e0e4736
expect "traceparent: 00-$trace" "^traceparent: 00-$trace-[0-9a-f]{16}-01\$" \
  "/booking-service\.log:.*$trace" "/history-service\.log:.*$trace"
expect 'history-verify keygen' '^wrote .*/my-checkpoint\.key and .*/my-checkpoint\.key\.pub$'
expect 'history-verify checkpoint' '^verified: ' '^verified: .*1 bookings'
expect 'HistoryService/GetLogEntries' '^2$'
expect 'history-verify log --server' '^verified: the log checkpoint of size [0-9]+ .* extends the witnessed one'
echo "PASS: ${#blocks[@]} README example blocks"
