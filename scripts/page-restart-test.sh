#!/usr/bin/env bash
# The try-it page's history across a restart of the default run (`./tempera run`: the Temporal CLI's dev
# server on a file database, and the embedded app on it): starts both on free ports in a scratch folder,
# runs clients/web/tests/history-restart.browser.test.ts's first phase (two generations through the page),
# stops both, starts them again on the same database, and runs its second phase (a fresh browser finds them
# in the History and Gallery tabs). Usage: scripts/page-restart-test.sh [chromium]; needs the embedded app jar
# and the Temporal CLI (TEMPERA_TEMPORAL_CLI, else scripts/ensure-temporal.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=${1:-${TEMPERA_CHROMIUM:-/usr/bin/chromium}}
jar=$(ls embedded/target/tempera-embedded-*-app.jar 2>/dev/null | head -1)
[ -n "$jar" ] || { echo "no embedded app jar: build first" >&2; exit 1; }
cli=${TEMPERA_TEMPORAL_CLI:-$(scripts/ensure-temporal.sh)}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port); comfy=$(free_port); tport=$(free_port); uiport=$(free_port)
scratch=$(mktemp -d)
mkdir -p "$scratch/templates"
cp -r templates/functions "$scratch/templates/shipped"
cp -r templates/models "$scratch/templates/models"
key=$("$java" -jar "$jar" keys create --project demo --name restart-test --keys-file "$scratch/keys.json" 2>"$scratch/keys.log" \
  | tr -d '\r' | grep -E '^tpk_' | tail -1) || { cat "$scratch/keys.log" >&2; exit 1; }
temporal_pid=""; app_pid=""
stop() {
  [ -n "$app_pid" ] && { kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; }
  [ -n "$temporal_pid" ] && { kill "$temporal_pid" 2>/dev/null || true; wait "$temporal_pid" 2>/dev/null || true; }
  app_pid=""; temporal_pid=""
}
trap stop EXIT
start() {
  "$cli" server start-dev --ip 127.0.0.1 --port "$tport" --ui-port "$uiport" --db-filename "$scratch/temporal.db" \
    --log-level warn >>"$scratch/temporal.log" 2>&1 &
  temporal_pid=$!
  for _ in $(seq 1 60); do "$cli" operator namespace describe --address "127.0.0.1:$tport" -n default >/dev/null 2>&1 && break; sleep 1; done
  for name in TemperaFunction TemperaProject TemperaNode TemperaTier TemperaStatus; do
    "$cli" operator search-attribute create --address "127.0.0.1:$tport" --name "$name" --type Keyword >/dev/null 2>&1 || true
  done
  # shellcheck disable=SC2086
  TEMPERA_PORT=$port TEMPERA_COMFYUI_PORT=$comfy TEMPERA_OUTPUT_ROOT=$scratch/outputs TEMPERA_COMFYUI_DATA=$scratch/comfyui \
    TEMPERA_TEMPLATES_DIR=$scratch/templates TEMPERA_KEYS_FILE=$scratch/keys.json \
    "$java" ${JAVA_OPTS:-} -Xmx1g -jar "$jar" --spring.temporal.test-server.enabled=false \
    --spring.temporal.connection.target="127.0.0.1:$tport" --tempera.temporal-kind=dev-server >>"$scratch/app.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/actuator/health" >/dev/null 2>&1 && return 0
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 1
  done
  tail -40 "$scratch/app.log" >&2; echo "the embedded system did not start" >&2; exit 1
}
phase() {
  (cd clients/web && TEMPERA_RESTART_PHASE=$1 TEMPERA_RESTART_STATE=$scratch/ids.json TEMPERA_URL="http://127.0.0.1:$port" \
    TEMPERA_CHROMIUM="$chromium" TEMPERA_PAGE_API_KEY="$key" npx vitest run --config vitest.browser.config.ts tests/history-restart.browser.test.ts) \
    || { tail -40 "$scratch/app.log" >&2; echo "the history-across-a-restart test failed in phase $1 (scratch: $scratch)" >&2; exit 1; }
}
start
phase before
stop
start
phase after
stop
rm -rf "$scratch"
echo "the page's history and gallery survived a restart of the dev server and the app"
