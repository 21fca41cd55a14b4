#!/usr/bin/env bash
# Stops what scripts/run.sh or scripts/demo-migration.sh started: both
# services (SIGTERM: they drain), then the local PostgreSQL. The data in
# .local/pg stays; delete .local to start afresh.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/local-stack.sh
for name in booking-service history-service; do
  if [ -f "$local_dir/run/$name.pid" ]; then service_stop "$name"; echo "stopped $name"; fi
done
if [ -f "$local_dir/pg/data/PG_VERSION" ]; then
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$local_dir/pg/data" -m fast stop >/dev/null 2>&1 &&
    echo "stopped PostgreSQL"
fi
