#!/usr/bin/env bash
# README's run command with tamper evidence on (issue 19): scripts/run.sh,
# run beside any stack of yours (its own .local, PostgreSQL port and service
# ports), ends by verifying the history store; then README's block between
# readme-tamper-begin/end, run as written (the port and .local/ mapped to
# this stack's), verifies once and names the row a superuser rewrote.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/readme-tamper.XXXXXX)
chmod 755 "$work"  # PostgreSQL runs as the postgres user under root
# Ports below the kernel's ephemeral range: a port the kernel hands to an
# outgoing connection (the suite makes thousands) cannot be taken from
# under PostgreSQL between this check and its bind.
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
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/run.out "$LOCAL_DIR"/pg/server.log "$LOCAL_DIR"/logs/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
  done
  exit 1
}

scripts/run.sh >"$work/run.out" 2>&1 || fail "scripts/run.sh exited $?"
grep -q '^verified: .* checked against the checkpoint of' "$work/run.out" ||
  fail "scripts/run.sh did not end with a verified store"

# README's block, as written, for this stack.
sed -n '/<!-- readme-tamper-begin -->/,/<!-- readme-tamper-end -->/p' README.md |
  sed -e '1d;$d' -e 's/^    //' -e "s/54329/$PG_PORT/g" -e "s#\.local/#$LOCAL_DIR/#g" \
    >"$work/block.sh"
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
