#!/usr/bin/env bash
# README's run command: installs, builds, starts a local PostgreSQL in
# .local/pg, runs `migrator up`, starts history-service and booking-service,
# and walks one booking through its lifecycle. The services stay up;
# scripts/stop.sh stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
local_dir="$root/.local"
pg_port=${PG_PORT:-54329}
booking_listen=${BOOKING_LISTEN:-127.0.0.1:50051}
history_listen=${HISTORY_LISTEN:-127.0.0.1:50052}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

scripts/setup.sh
scripts/build.sh
mkdir -p "$local_dir/logs" "$local_dir/run"

# PostgreSQL refuses to run as root: as root, it runs as the postgres user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
if [ ! -f "$local_dir/pg/data/PG_VERSION" ]; then
  mkdir -p "$local_dir/pg"
  [ ${#as_pg[@]} -gt 0 ] && chown postgres "$local_dir/pg"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$local_dir/pg/data" -A trust -U postgres -E UTF8 >/dev/null
fi
if ! "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$local_dir/pg/data" status >/dev/null 2>&1; then
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$local_dir/pg/data" -w -l "$local_dir/pg/server.log" \
    -o "-p $pg_port -k $local_dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
fi
for db in booking history; do
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" \
    | grep -q 1 || psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE $db"
done
export BOOKING_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/booking"
export HISTORY_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/history"

build/migrator/migrator up

# A demo caller identity: what history records as changedBy.
tokens="$local_dir/tokens"
[ -f "$tokens" ] || echo "demo-dispatcher demo-token-$(head -c8 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$tokens"
token=$(awk '{print $2}' "$tokens")

start() {  # name, then the command
  local name=$1; shift
  local pidfile="$local_dir/run/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"; while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
  fi
  nohup "$@" >>"$local_dir/logs/$name.log" 2>&1 &
  echo $! > "$pidfile"
}
start history-service build/history-service/history-service --listen "$history_listen"
start booking-service build/booking-service/booking-service --listen "$booking_listen" \
  --history-target "$history_listen" --auth-tokens-file "$tokens"

for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/${booking_listen%:*}/${booking_listen#*:}") 2>/dev/null && break
  sleep 0.1
done
build/tools/booking-demo --booking-target "$booking_listen" --history-target "$history_listen" --token "$token"

cat <<INFO

Running:
  booking-service  $booking_listen   (log .local/logs/booking-service.log)
  history-service  $history_listen   (log .local/logs/history-service.log)
  PostgreSQL       127.0.0.1:$pg_port  (databases booking, history; data in .local/pg)
  bearer token     $token  (principal demo-dispatcher, in .local/tokens)

Stop everything with: scripts/stop.sh
INFO
