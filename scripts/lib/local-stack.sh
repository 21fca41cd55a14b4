# Shared by scripts/run.sh and scripts/demo-migration.sh: a PostgreSQL in
# .local/pg and the services started in the background. Source it from the
# repository root. LOCAL_DIR (default .local), PG_PORT, BOOKING_LISTEN and
# HISTORY_LISTEN move it elsewhere (tests run a second stack beside yours).
local_dir=${LOCAL_DIR:-"$(pwd)/.local"}
pg_port=${PG_PORT:-54329}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
booking_listen=${BOOKING_LISTEN:-127.0.0.1:50051}
history_listen=${HISTORY_LISTEN:-127.0.0.1:50052}
mkdir -p "$local_dir/logs" "$local_dir/run"

# PostgreSQL refuses to run as root: as root, it runs as the postgres user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

pg_start() {
  if [ ! -f "$local_dir/pg/data/PG_VERSION" ]; then
    mkdir -p "$local_dir/pg"
    if [ ${#as_pg[@]} -gt 0 ]; then chown postgres "$local_dir/pg"; fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$local_dir/pg/data" -A trust -U postgres -E UTF8 >/dev/null
  fi
  if ! "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$local_dir/pg/data" status >/dev/null 2>&1; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$local_dir/pg/data" -w -l "$local_dir/pg/server.log" \
      -o "-p $pg_port -k $local_dir/pg -c listen_addresses=127.0.0.1" start >/dev/null
  fi
}

pg_url() { echo "postgresql://postgres@127.0.0.1:$pg_port/$1"; }

psql_local() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

# Creates database $1 unless it exists ("fresh" as $2: drop it first).
db_create() {
  if [ "${2:-}" = fresh ]; then psql_local -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; fi
  psql_local -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 ||
    psql_local -c "CREATE DATABASE $1"
}

demo_token() {
  local tokens="$local_dir/tokens"
  [ -f "$tokens" ] || echo "demo-dispatcher demo-token-$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$tokens"
  awk '{print $2}' "$tokens"
}

# A local CA and certificates in .local/tls (made once, by
# scripts/lib/tls-certs.sh): each service's certificate names it
# (spiffe://booking.local/<name>) and localhost; demo-client is the
# certificate tools such as booking-demo and grpc-call (or grpcurl) present.
tls_dir="$local_dir/tls"
tls_setup() {
  scripts/lib/tls-certs.sh ca "$tls_dir"
  local name
  for name in booking-service history-service demo-client; do
    [ -f "$tls_dir/$name.crt" ] ||
      scripts/lib/tls-certs.sh cert "$tls_dir" "$name" \
        "DNS:localhost,IP:127.0.0.1,URI:spiffe://booking.local/$name"
  done
}
tls_flags() { echo --tls-cert "$tls_dir/$1.crt" --tls-key "$tls_dir/$1.key" --tls-ca "$tls_dir/ca.crt"; }

# The local policy (.local/policy), from scripts/lib/local-authz-policy:
# booking-service alone ingests history; the demo token's principal reads
# and writes bookings and reads history.
policy_setup() { cp scripts/lib/local-authz-policy "$local_dir/policy"; }
access_flags() { echo --auth-tokens-file "$local_dir/tokens" --authz-policy "$local_dir/policy"; }

# Tamper evidence on (README "Tamper evidence"): the checkpoint signing key,
# made once in .local/checkpoint.key (its public key beside it, .pub); the
# log's checkpoint signed every second when it grew (the default).
checkpoint_key="$local_dir/checkpoint.key"
checkpoint_setup() {
  [ -f "$checkpoint_key" ] || build/history-verify/history-verify keygen --out "$checkpoint_key" >/dev/null
}
checkpoint_flags() { echo --checkpoint-key "$checkpoint_key"; }

# Waits until the store holds a log checkpoint covering every history row
# (up to 30 s) and prints it (a signed note: its second line is the size).
checkpoint_wait() {
  local line
  for _ in $(seq 1 300); do
    line=$(build/history-verify/history-verify checkpoint --database-url "$1" \
      --public-key "$checkpoint_key.pub" 2>/dev/null) &&
      [ "$(psql_local -d "${1##*/}" -tAc 'SELECT count(*) FROM "BookingStatusHistory"')" = \
        "$(sed -n 2p <<<"$line")" ] &&
      { echo "$line"; return 0; }
    sleep 0.1
  done
  echo "no checkpoint of every history row within 30 s; see $local_dir/logs/history-service.log" >&2
  return 1
}

# Starts (or restarts) a service in the background: name, then the command.
service_start() {
  local name=$1; shift
  local pidfile="$local_dir/run/$name.pid"
  service_stop "$name"
  nohup "$@" >>"$local_dir/logs/$name.log" 2>&1 &
  echo $! > "$pidfile"
}

service_stop() {
  local pidfile="$local_dir/run/$1.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -TERM "$(cat "$pidfile")"
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pidfile"
}

# Both services against the given booking and history URLs.
# Over mTLS, with the tokens and the policy.
services_start() {
  tls_setup
  policy_setup
  checkpoint_setup
  demo_token >/dev/null
  # shellcheck disable=SC2046 # the flags are words without spaces
  service_start history-service build/history-service/history-service --listen "$history_listen" \
    --database-url "$2" $(tls_flags history-service) $(access_flags) $(checkpoint_flags)
  # shellcheck disable=SC2046
  service_start booking-service build/booking-service/booking-service --listen "$booking_listen" \
    --database-url "$1" --history-target "$history_listen" $(tls_flags booking-service) \
    $(access_flags)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/${booking_listen%:*}/${booking_listen#*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "booking-service did not start; see $local_dir/logs/booking-service.log" >&2
  return 1
}
