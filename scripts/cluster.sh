#!/usr/bin/env bash
# A real Temporal cluster on this machine: PostgreSQL (Debian's packages), the Temporal server and its UI
# (built from the Go module proxy by scripts/ensure-temporal-server.sh), with the schema set up, the
# namespace and the Tempera search attributes registered. What production runs, on one machine.
#
#   scripts/cluster.sh up        start all of it in the background (state in $TEMPERA_CLUSTER_DIR), wait
#                                until it answers, print the settings the apps need
#   scripts/cluster.sh down      stop what 'up' started (the data stays; 'up' again continues on it)
#   scripts/cluster.sh status    what runs
#   scripts/cluster.sh env       the settings for the apps (TEMPORAL_ADDRESS=…), one per line
# One part at a time, in the foreground (what the cluster tests start and kill -9):
#   scripts/cluster.sh postgres  PostgreSQL on its data folder (made at the first start)
#   scripts/cluster.sh schema    databases and schema (idempotent; the server's own SQL tool)
#   scripts/cluster.sh server    the Temporal server (frontend, history, matching, worker services)
#   scripts/cluster.sh ui        the Temporal UI server
#   scripts/cluster.sh register  the namespace and the search attributes (idempotent)
#   scripts/cluster.sh probe     whether the server at TEMPORAL_ADDRESS answers (exit 0) or not (1)
#
# Settings (environment), with their defaults:
#   TEMPERA_CLUSTER_DIR   .tempera/cluster        data, logs, pids
#   TEMPORAL_BIND_IP      127.0.0.1               where the server and PostgreSQL listen
#   TEMPORAL_BROADCAST_ADDRESS                    the server's own address for its services (default
#                                                 TEMPORAL_BIND_IP; an IP, needed with 0.0.0.0)
#   TEMPORAL_ADDRESS      <bind ip>:<port>        where 'register' and the UI reach the frontend
#   TEMPORAL_PORT         7233                    the frontend (ports up to +106 are the other services';
#                                                 +106 must stay below 32768: the membership table)
#   TEMPORAL_UI_PORT      8233                    the Temporal UI
#   TEMPORAL_METRICS_PORT 8000                    the server's Prometheus metrics
#   TEMPORAL_DB_PORT      5433                    PostgreSQL
#   TEMPORAL_DB_USER / TEMPORAL_DB_PASSWORD  temporal / temporal
#   TEMPORAL_NAMESPACE    default                 registered with a 3-day retention
#   TEMPORAL_CODEC_ENDPOINT                       the UI's codec server (the API's /api/admin/codec) when
#                                                 generations are encrypted (README: Encryption at rest)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '[tempera] %s\n' "$*" >&2; }

export TEMPERA_CLUSTER_DIR=${TEMPERA_CLUSTER_DIR:-$ROOT/.tempera/cluster}
export TEMPORAL_BIND_IP=${TEMPORAL_BIND_IP:-127.0.0.1}
export TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
export TEMPORAL_UI_PORT=${TEMPORAL_UI_PORT:-8233}
export TEMPORAL_METRICS_PORT=${TEMPORAL_METRICS_PORT:-8000}
export TEMPORAL_DB_HOST=${TEMPORAL_DB_HOST:-$TEMPORAL_BIND_IP}
[ "$TEMPORAL_DB_HOST" = 0.0.0.0 ] && TEMPORAL_DB_HOST=127.0.0.1
export TEMPORAL_DB_PORT=${TEMPORAL_DB_PORT:-5433}
export TEMPORAL_DB_USER=${TEMPORAL_DB_USER:-temporal}
export TEMPORAL_DB_PASSWORD=${TEMPORAL_DB_PASSWORD:-temporal}
export TEMPORAL_NAMESPACE=${TEMPORAL_NAMESPACE:-default}
export TEMPORAL_DYNAMIC_CONFIG=${TEMPORAL_DYNAMIC_CONFIG:-$ROOT/deploy/cluster/dynamicconfig.yaml}
# where clients reach the frontend (registration, the UI): TEMPORAL_ADDRESS when set (another container)
ADDRESS=${TEMPORAL_ADDRESS:-$TEMPORAL_BIND_IP:$TEMPORAL_PORT}
[ "$TEMPORAL_BIND_IP" = 0.0.0.0 ] && [ -z "${TEMPORAL_ADDRESS:-}" ] && ADDRESS="127.0.0.1:$TEMPORAL_PORT"
DIR=$TEMPERA_CLUSTER_DIR
mkdir -p "$DIR/logs"

# The Tempera search attributes (GenerationSearchAttributes); Keyword each.
SEARCH_ATTRIBUTES="TemperaFunction TemperaProject TemperaNode TemperaTier TemperaStatus"

# PostgreSQL's server programs: Debian's, installed when missing.
pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing PostgreSQL from Debian's packages"
    (apt-get install -y -qq postgresql >/dev/null 2>&1) || (apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null)
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
      [ -x "$d/postgres" ] && { echo "$d"; return; }
    done
  fi
  say "the cluster needs PostgreSQL's server (Debian: apt-get install postgresql)"; exit 1
}

# PostgreSQL refuses to run as root: as root its programs run as the postgres user Debian's package made,
# on a data folder that user can reach (the clone may sit below a folder only root may enter).
pg_data() {
  if [ "$(id -u)" = 0 ] && ! setpriv --reuid=postgres --regid=postgres --init-groups test -x "$DIR" 2>/dev/null; then
    echo "/var/tmp/tempera-pg-$(printf %s "$DIR" | sha1sum | cut -c1-12)"
  else
    echo "$DIR/postgres"
  fi
}
as_pg() {
  if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else exec "$@"; fi
}
run_as_pg() { (as_pg "$@"); }

cmd_postgres() {
  local bin data
  bin=$(pg_bin); data=$(pg_data)
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    chmod 700 "$data"
    local pw; pw=$(mktemp); printf '%s\n' "$TEMPORAL_DB_PASSWORD" >"$pw"
    [ "$(id -u)" = 0 ] && chown postgres "$pw"
    say "making PostgreSQL's data folder $data"
    run_as_pg "$bin/initdb" -D "$data" -U "$TEMPORAL_DB_USER" --pwfile="$pw" --auth-host=scram-sha-256 \
      --auth-local=trust -E UTF8 >"$DIR/logs/initdb.log" 2>&1 || { rm -f "$pw"; cat "$DIR/logs/initdb.log" >&2; exit 1; }
    rm -f "$pw"
  fi
  # initdb lets TCP clients in from loopback only: the server (and other hosts) may connect from the
  # address PostgreSQL listens on, with the password
  if ! grep -q '^host all all all scram-sha-256' "$data/pg_hba.conf" 2>/dev/null; then
    run_as_pg sh -c "echo 'host all all all scram-sha-256' >> '$data/pg_hba.conf'"
  fi
  as_pg "$bin/postgres" -D "$data" -p "$TEMPORAL_DB_PORT" -k "$data" -c "listen_addresses=$TEMPORAL_BIND_IP" \
    -c max_connections=200 -c fsync=on
}

server_home() { scripts/ensure-temporal-server.sh; }

sql_tool() {
  local home=$1; shift
  "$home/bin/temporal-sql-tool" --plugin postgres12 --endpoint "$TEMPORAL_DB_HOST" --port "$TEMPORAL_DB_PORT" \
    --user "$TEMPORAL_DB_USER" --password "$TEMPORAL_DB_PASSWORD" "$@"
}

cmd_schema() {
  local home db kind
  home=$(server_home)
  for kind in temporal visibility; do
    if [ $kind = temporal ]; then db=${TEMPORAL_DB_NAME:-temporal}; else db=${TEMPORAL_VISIBILITY_DB_NAME:-temporal_visibility}; fi
    sql_tool "$home" --database "$db" create-database >>"$DIR/logs/schema.log" 2>&1 || true   # exists already
    # setup-schema -v 0.0 once (it refuses a database that has its version table), then every update
    sql_tool "$home" --database "$db" setup-schema -v 0.0 >>"$DIR/logs/schema.log" 2>&1 || true
    sql_tool "$home" --database "$db" update-schema -d "$home/schema/postgresql/v12/$kind/versioned" >>"$DIR/logs/schema.log" 2>&1 \
      || { tail -20 "$DIR/logs/schema.log" >&2; say "the $kind schema could not be set up (log: $DIR/logs/schema.log)"; exit 1; }
  done
}

cmd_server() {
  local home; home=$(server_home)
  exec "$home/bin/temporal-server" --config-file "$ROOT/deploy/cluster/temporal-server.yaml" --allow-no-auth start
}

cmd_ui() {
  local home; home=$(server_home)
  export TEMPORAL_ADDRESS="$ADDRESS" TEMPORAL_DEFAULT_NAMESPACE="$TEMPORAL_NAMESPACE"
  export TEMPORAL_UI_DISTRIBUTION=tempera TEMPORAL_DISABLE_NEWS_FETCH=true
  # the UI server binds its port on every address; TEMPORAL_UI_PORT picks it
  exec "$home/bin/temporal-ui-server" --root "$home" --config ui-config --env docker start
}

cli() { "$(scripts/ensure-temporal.sh)" "$@"; }

cmd_register() {
  local i name
  for i in $(seq 1 120); do
    if cli operator namespace describe --address "$ADDRESS" -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then break; fi
    cli operator namespace create --address "$ADDRESS" -n "$TEMPORAL_NAMESPACE" --retention 72h >/dev/null 2>&1 || true
    sleep 1
  done
  cli operator namespace describe --address "$ADDRESS" -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 \
    || { say "the Temporal server at $ADDRESS did not take the namespace $TEMPORAL_NAMESPACE"; exit 1; }
  for name in $SEARCH_ATTRIBUTES; do
    if ! cli operator search-attribute list --address "$ADDRESS" -n "$TEMPORAL_NAMESPACE" 2>/dev/null | grep -qw "$name"; then
      cli operator search-attribute create --address "$ADDRESS" -n "$TEMPORAL_NAMESPACE" --name "$name" --type Keyword >/dev/null \
        || { say "could not register the search attribute $name"; exit 1; }
    fi
  done
}

cmd_probe() { cli operator cluster health --address "$ADDRESS" >/dev/null 2>&1; }

cmd_env() {
  echo "TEMPORAL_ADDRESS=$ADDRESS"
  echo "TEMPORAL_NAMESPACE=$TEMPORAL_NAMESPACE"
}

# ---- the whole cluster in the background ----
start_bg() {   # name, then the subcommand
  local name=$1; shift
  "$0" "$@" >>"$DIR/logs/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}
alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
wait_port() {   # host, port, seconds, name
  local i
  for i in $(seq 1 "$3"); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    alive "$4" || { tail -30 "$DIR/logs/$4.log" >&2; say "$4 exited (log: $DIR/logs/$4.log)"; return 1; }
    sleep 1
  done
  say "$4 did not listen on $1:$2 within $3 s (log: $DIR/logs/$4.log)"; return 1
}

cmd_up() {
  local home started; started=$(date +%s)
  home=$(server_home) >/dev/null
  pg_bin >/dev/null
  alive postgres || start_bg postgres postgres
  wait_port "$TEMPORAL_DB_HOST" "$TEMPORAL_DB_PORT" 60 postgres
  cmd_schema
  alive server || start_bg server server
  wait_port "$TEMPORAL_BIND_IP" "$TEMPORAL_PORT" 120 server
  cmd_register
  alive ui || start_bg ui ui
  wait_port 127.0.0.1 "$TEMPORAL_UI_PORT" 60 ui
  say "Temporal cluster up in $(( $(date +%s) - started )) s: server $ADDRESS (PostgreSQL $TEMPORAL_DB_HOST:$TEMPORAL_DB_PORT, data in $(pg_data)), UI http://localhost:$TEMPORAL_UI_PORT, metrics http://$TEMPORAL_BIND_IP:$TEMPORAL_METRICS_PORT/metrics, logs in $DIR/logs"
  cmd_env
}

cmd_down() {
  local name pid
  for name in ui server postgres; do
    [ -f "$DIR/$name.pid" ] || continue
    pid=$(cat "$DIR/$name.pid")
    # the foreground parts exec their program, so the pid is the program's; PostgreSQL stops cleanly on TERM
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/$name.pid"
  done
}

cmd_status() {
  local name
  for name in postgres server ui; do
    if alive $name; then echo "$name: running (pid $(cat "$DIR/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  postgres) cmd_postgres ;;
  schema) cmd_schema ;;
  server) cmd_server ;;
  ui) cmd_ui ;;
  register) cmd_register ;;
  probe) cmd_probe ;;
  *) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
