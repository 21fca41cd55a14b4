#!/usr/bin/env bash
# Stops what scripts/run.sh started: both services (SIGTERM: they drain), then
# the local PostgreSQL. The data in .local/pg stays; delete .local to reset.
set -uo pipefail
cd "$(dirname "$0")/.."
local_dir="$(pwd)/.local"
for name in booking-service history-service; do
  pidfile="$local_dir/run/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -TERM "$(cat "$pidfile")"
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
    echo "stopped $name"
  fi
  rm -f "$pidfile"
done
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
if [ -f "$local_dir/pg/data/PG_VERSION" ]; then
  "${as_pg[@]}" "${PG_BIN:-/usr/lib/postgresql/15/bin}/pg_ctl" -D "$local_dir/pg/data" -m fast stop \
    >/dev/null 2>&1 && echo "stopped PostgreSQL"
fi
