#!/usr/bin/env bash
# README's run command: installs, builds, starts a local PostgreSQL in
# .local/pg, runs `migrator up`, starts history-service and booking-service,
# and walks one booking through its lifecycle. The services stay up;
# scripts/stop.sh stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
source scripts/lib/local-stack.sh

pg_start
db_create booking
db_create history
export BOOKING_DATABASE_URL=$(pg_url booking) HISTORY_DATABASE_URL=$(pg_url history)
build/migrator/migrator up

token=$(demo_token)
services_start "$BOOKING_DATABASE_URL" "$HISTORY_DATABASE_URL"
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" --token "$token"

cat <<INFO

Running:
  booking-service  $booking_listen   (log .local/logs/booking-service.log)
  history-service  $history_listen   (log .local/logs/history-service.log)
  PostgreSQL       127.0.0.1:$pg_port  (databases booking, history; data in .local/pg)
  bearer token     $token  (principal demo-dispatcher, in .local/tokens)

Stop everything with: scripts/stop.sh
INFO
