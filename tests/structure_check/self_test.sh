#!/usr/bin/env bash
# scripts/check-structure.py can fail: a throwaway tree with a product file
# of 401 lines, a function of 61 lines (and one of 60, at the limit), test
# files that sleep outside the wait helper (C++ and shell) and one that
# only mentions sleep in a comment. The check must name each offence, with
# its file and line, and nothing else; the same tree without them passes.
#   self_test.sh PATH/TO/check-structure.py
set -euo pipefail
check=$1
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/common" "$tree/tests/support"

# A function of `2 + n` lines: its signature, n statements, its brace.
function_of() {
  echo "int $1() {"
  for ((i = 0; i < $2; ++i)); do echo "  ++x;"; done
  echo "}"
}
{
  echo "static int x = 0;"
  function_of AtTheLimit 58   # lines 2-61: 60 lines
  function_of TooLong 59      # lines 62-122: 61 lines
} >"$tree/common/functions.cc"
for ((i = 0; i < 401; ++i)); do echo "// line"; done >"$tree/common/big.h"
cat >"$tree/tests/sleepy_test.cc" <<'CC'
#include <thread>
// Mentions absl::SleepFor( in a comment only: not an offence.
void A() { absl::SleepFor(absl::Milliseconds(10)); }
void B() { std::this_thread::sleep_for(std::chrono::milliseconds(10)); }
void C() { usleep(10); }
const char* kSql = "SELECT pg_sleep(1)";  // server-side: allowed
CC
printf '#!/bin/sh\n# sleep 1 in a comment\nsleep 1\n' >"$tree/tests/sleepy.sh"
printf 'void Pace() { absl::SleepFor(absl::Milliseconds(1)); }\n' >"$tree/tests/support/wait.cc"

expected="common/big.h:401: file is 401 lines
common/functions.cc:62: function TooLong is 61 lines
tests/sleepy.sh:3: sleeps outside tests/support/wait.h
tests/sleepy_test.cc:3: sleeps outside tests/support/wait.h
tests/sleepy_test.cc:4: sleeps outside tests/support/wait.h
tests/sleepy_test.cc:5: sleeps outside tests/support/wait.h"

status=0
out=$("$check" --root "$tree" --rules product,sleep) || status=$?
got=$(grep -v '^check-structure' <<<"$out" | sed -E 's/ \(limit [0-9]+\)//; s/;.*//')
if [ "$status" -ne 1 ] || [ "$got" != "$expected" ]; then
  echo "FAIL: over the limits, expected exit 1 and:"; echo "$expected"
  echo "got exit $status and:"; echo "$out"; exit 1
fi
echo "over the limits: exit 1, every offence named:"; echo "$out"

# Within the limits: the same tree without the offences passes.
rm "$tree/common/big.h" "$tree/tests/sleepy.sh"
{ echo "static int x = 0;"; function_of AtTheLimit 58; } >"$tree/common/functions.cc"
sed -i '/SleepFor(absl\|sleep_for\|usleep/d' "$tree/tests/sleepy_test.cc"
status=0
out=$("$check" --root "$tree" --rules product,sleep) || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: within the limits, expected exit 0; got $status:"; echo "$out"; exit 1
fi
echo "within the limits: exit 0"
