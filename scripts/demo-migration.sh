#!/usr/bin/env bash
# The whole status-enum change on a local store full of bookings in the OLD
# labels, while both services serve: each phase run as a Kubernetes Job runs
# it (the migrator binary, URLs from the environment, its exit code checked),
# `migrator status` between phases, and a booking changed through
# booking-service mid-way keeping its progress. Services stay up afterwards;
# scripts/stop.sh stops everything. ROWS sets the number of bookings.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
source scripts/lib/local-stack.sh
source scripts/lib/demo-output.sh
rows=${ROWS:-20000}

job() {  # a phase as a Kubernetes Job runs it
  echo "\$ $(shell_command migrator "$@")"
  if build/migrator/migrator "$@" --progress lines; then
    echo "Job 'migrator $1' succeeded (exit 0)"
  else
    local rc=$?
    echo "Job 'migrator $1' failed with exit $rc" >&2
    exit "$rc"
  fi
}

step "A legacy booking store: $rows bookings in the old labels, indexes, views, another table"
pg_start
db_create legacy_booking fresh
db_create legacy_history fresh
psql_local -d legacy_booking -v rows="$rows" -f tests/fixtures/prisma_booking_store.sql
export BOOKING_DATABASE_URL=$(pg_url legacy_booking) HISTORY_DATABASE_URL=$(pg_url legacy_history)

step "Job: migrator up (adopts the store as it is, adds what the services need)"
job up
token=$(demo_token)
services_start "$BOOKING_DATABASE_URL" "$HISTORY_DATABASE_URL"
build/migrator/migrator status

step "Job: migrator plan (every object naming the status type, and how each phase carries it)"
job plan

step "Job: migrator expand"
job expand
build/migrator/migrator status --store booking

step "Old code still runs: it writes an old label with plain SQL (bk-00000004 IN_WORKSHOP -> COMPLETED)"
psql_local -d legacy_booking -c \
  "UPDATE \"Booking\" SET status = 'COMPLETED', \"updatedAt\" = now() WHERE id = 'bk-00000004'"

step "Job: migrator backfill (IN_WORKSHOP with work started becomes IN_SERVICE)"
job backfill --in-service-rule '"workStartedAt" IS NOT NULL' --batch-size 1000
build/migrator/migrator status --store booking

step "Mid-way: bk-00000002 (was JOCKEY_ASSIGNED) is picked up, through booking-service"
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" $(tls_flags demo-client) \
  --token "$token" --booking-id bk-00000002 --change-to PICKED_UP

step "Job: migrator verify"
job verify

step "Job: migrator contract (the 14-day compatibility window is shortened for the demo)"
job contract --compatibility-window 0s
build/migrator/migrator status --store booking

step "bk-00000002 kept its progress; its history shows each change and who made it"
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" $(tls_flags demo-client) \
  --token "$token" --booking-id bk-00000002

step "bk-00000004's history has old code's plain-SQL change too (in the new names)"
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" $(tls_flags demo-client) \
  --token "$token" --booking-id bk-00000004

cat <<INFO

The services still serve the migrated store on $booking_listen and $history_listen.
Undo phase by phase with: BOOKING_DATABASE_URL=$(shell_quote "$BOOKING_DATABASE_URL") build/migrator/migrator rollback
Stop everything with: scripts/stop.sh
INFO
