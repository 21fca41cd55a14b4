#!/usr/bin/env bash
# README's run command: installs, builds, starts a local PostgreSQL in
# .local/pg, runs `migrator up`, starts history-service and booking-service,
# and walks one booking through its lifecycle. Both services run with mTLS
# (a local CA and certificates in .local/tls), tokens and a policy;
# history-service signs checkpoints (.local/checkpoint.key), and the history
# store is verified at the end. The services stay up; scripts/stop.sh stops
# everything.
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
# shellcheck disable=SC2046
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" \
  --token "$token" $(tls_flags demo-client)

# Tamper evidence: every row's hash chain and the log against its newest signed checkpoint.
echo
checkpoint_wait "$HISTORY_DATABASE_URL" >"$local_dir/trusted.checkpoint"
build/history-verify/history-verify verify --database-url "$HISTORY_DATABASE_URL" \
  --public-key "$checkpoint_key.pub" --checkpoint "$local_dir/trusted.checkpoint"

cat <<INFO

Running:
  booking-service  $booking_listen   (log .local/logs/booking-service.log)
  history-service  $history_listen   (log .local/logs/history-service.log)
  PostgreSQL       127.0.0.1:$pg_port  (databases booking, history; data in .local/pg)
  bearer token     $token  (principal demo-dispatcher, in .local/tokens)
  mTLS             CA, certificates and keys in .local/tls; policy in .local/policy
  checkpoints      the log's, signed with .local/checkpoint.key every second; one kept
                   outside the store in .local/trusted.checkpoint

Call it with build/tools/grpc-call (grpcurl's flags; README "Calling it" has more):
  build/tools/grpc-call -cacert .local/tls/ca.crt -cert .local/tls/demo-client.crt \\
    -key .local/tls/demo-client.key -H "authorization: Bearer $token" \\
    $booking_listen booking.v1.BookingService/ListBookings

Check the history store (README "Tamper evidence"):
  build/history-verify/history-verify verify --database-url $HISTORY_DATABASE_URL \\
    --public-key .local/checkpoint.key.pub --checkpoint .local/trusted.checkpoint

Stop everything with: scripts/stop.sh
INFO
