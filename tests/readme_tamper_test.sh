#!/usr/bin/env bash
# README's run command with tamper evidence on (issue 19): scripts/run.sh,
# run beside any stack of yours (tests/support/readme_stack.sh), ends by
# verifying the history store; then README's block between
# readme-tamper-begin/end, run as written (the port and .local/ mapped to
# this stack's), verifies once and names the row a superuser rewrote.
source "$(dirname "$0")/support/readme_stack.sh"

run_stack

# README's block, as written, for this stack.
sed -n '/<!-- readme-tamper-begin -->/,/<!-- readme-tamper-end -->/p' README.md |
  sed -e '1d;$d' | map_to_stack >"$work/block.sh"
grep -q 'UPDATE "BookingStatusHistory"' "$work/block.sh" || fail "README's block not found"
set +e
bash -x "$work/block.sh" >"$work/block.out" 2>&1
rc=$?
set -e
cat "$work/block.out"
[ "$rc" = 1 ] || fail "README's block: the second verify exited $rc, not 1 (tampering found)"
[ "$(grep -c '^verified: ' "$work/block.out")" = 1 ] || fail "the first verify did not pass"
grep -q '^NOT VERIFIED: booking .* sequence 2: ' "$work/block.out" ||
  fail "the rewritten row (sequence 2) was not named"
echo "PASS"
