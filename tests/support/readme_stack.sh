# Shared by the tests that run README's commands as written
# (tests/readme_*_test.sh): scripts/run.sh's stack beside any stack of yours
# (its own .local, PostgreSQL port and service ports, exported as
# LOCAL_DIR, PG_PORT, BOOKING_LISTEN and HISTORY_LISTEN, which
# scripts/lib/local-stack.sh reads), README's commands mapped onto it, and
# the logs printed when a check fails. Source it from a test; it cds to the
# repository root and makes $work, removed (and the stack stopped) on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/readme-test.XXXXXX)
chmod 755 "$work"  # PostgreSQL runs as the postgres user under root

# Ports below the kernel's ephemeral range: a port the kernel hands to an
# outgoing connection (the suite makes thousands) cannot be taken from
# under PostgreSQL or a service between this check and its bind.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
[ "$ephemeral_low" -gt 12000 ] || ephemeral_low=32768
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
export LOCAL_DIR=$work/local PG_PORT=$(free_port)
export BOOKING_LISTEN=127.0.0.1:$(free_port) HISTORY_LISTEN=127.0.0.1:$(free_port)

cleanup() {
  scripts/stop.sh >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Files fail() prints besides run.sh's output and the logs; a test adds its own.
fail_files=()
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/run.out "$LOCAL_DIR"/pg/server.log "$LOCAL_DIR"/logs/*.log "${fail_files[@]}"; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
  done
  exit 1
}

# README's run command; fails unless it ended by verifying the history store.
run_stack() {
  scripts/run.sh >"$work/run.out" 2>&1 || fail "scripts/run.sh exited $?"
  grep -q '^verified: .* checked against the log checkpoint of' "$work/run.out" ||
    fail "scripts/run.sh did not end with a verified store"
}

# README's indented command lines (stdin) as a script for this stack (stdout):
# the indentation removed, and README's ports (PostgreSQL 54329, services
# 127.0.0.1:50051 and :50052) and .local/ replaced by this stack's; nothing
# else changes.
map_to_stack() {
  sed -E -e 's/^    //' -e "s/54329/$PG_PORT/g" \
    -e "s/127\.0\.0\.1:50051/$BOOKING_LISTEN/g" -e "s/127\.0\.0\.1:50052/$HISTORY_LISTEN/g" \
    -e "s#(^|[^[:alnum:]_.-])\.local/#\1$LOCAL_DIR/#g"
}
