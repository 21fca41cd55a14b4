# What scripts/demo-migration.sh prints: step headings, bold only on a
# terminal (never with NO_COLOR set, no-color.org), and the commands it runs
# echoed shell-quoted, so that a line pasted into bash runs the same command
# (the quoting is Python's shlex.quote; the migrator's own "next: run" lines
# use the same, common/shell_quote.h). Sourced; tests/demo_output_test.sh.

# $1 as one shell word: as it is when it holds only @%+=:,./-_ letters and
# digits, else in single quotes with each ' written '"'"'.
shell_quote() {
  if [[ -n $1 && $1 =~ ^[A-Za-z0-9@%+=:,./_-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\"\'\"\'}"
  fi
}

# The arguments as one command line bash splits back into exactly them.
shell_command() {
  local words=() word
  for word in "$@"; do words+=("$(shell_quote "$word")"); done
  printf '%s\n' "${words[*]}"
}

# A step heading: bold on a terminal unless NO_COLOR is set and not empty.
step() {
  if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    printf '\n\033[1m== %s\033[0m\n' "$*"
  else
    printf '\n== %s\n' "$*"
  fi
}
