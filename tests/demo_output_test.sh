#!/usr/bin/env bash
# scripts/demo-migration.sh's output (issue 23): step headings carry no
# escape sequence when the output is not a terminal or NO_COLOR is set (bold
# only on a terminal), and every echoed command pastes back into bash as
# exactly the words it ran with, whatever they hold.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib/demo-output.sh"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
has_esc() { LC_ALL=C grep -q $'\x1b'; }

# Not a terminal (a pipe): no escape byte.
if step "a heading" | has_esc; then fail "step wrote an escape sequence into a pipe"; fi
[ "$(step "a heading" | tail -n1)" = "== a heading" ] || fail "step's heading in a pipe"

# On a terminal (script(1) gives one): bold, unless NO_COLOR is set.
if command -v script >/dev/null; then
  on_tty() {
    script -qec "bash -c 'source $root/scripts/lib/demo-output.sh; step heading'" /dev/null
  }
  on_tty | has_esc || fail "step on a terminal is not bold"
  if NO_COLOR=1 on_tty | has_esc; then fail "step on a terminal with NO_COLOR=1 is bold"; fi
  NO_COLOR= on_tty | has_esc || fail "an empty NO_COLOR must not turn colour off"
else
  echo "script(1) not installed: terminal cases skipped"
fi

# Hostile words survive the echo: bash reads the echoed line back as them.
words=(migrator backfill --in-service-rule '"workStartedAt" IS NOT NULL' "it's" "'" ''
       'a $HOME `id` $(id) \ \\ ! * ? ~ # ; & | < > ( ) { } [ ]' $'two\nlines\ttab' ' x ' -n
       '--flag=a b' 'ünïcödé' '%s\0' "\$'\\x41'" plain-1.2:3,4@5%6+7=8/9)
line=$(shell_command "${words[@]}")
expected=$(printf '%s\0' "${words[@]}" | od -An -c)
actual=$(bash -c "printf '%s\0' $line" | od -An -c)
[ "$expected" = "$actual" ] || fail "echoed command does not paste back: $line"
[ "$(shell_command migrator backfill --batch-size 1000)" = "migrator backfill --batch-size 1000" ] ||
  fail "plain words must stay as they are"
[ "$(shell_quote "it's")" = "'it'\"'\"'s'" ] || fail "quote of it's"

[ "$failures" -eq 0 ] && echo "demo output: all checks passed"
exit "$failures"
