#!/usr/bin/env bash
# Prints the folder of a real Temporal server build, making it once into the tools cache outside the
# clone (~/.cache/tempera/tools/temporal-server-<v>/, or $TEMPERA_CACHE_DIR/tools) so a fresh clone
# reuses it. Everything comes from the Go module proxy: the server (go.temporal.io/server, its
# cmd/server and the SQL schema tool cmd/tools/sql) and the Temporal UI server
# (github.com/temporalio/ui-server/v2), built with the Go toolchain GOTOOLCHAIN names (the server
# needs a newer Go than Debian's or the machine's; the proxy serves it). The folder holds
#   bin/temporal-server  bin/temporal-sql-tool  bin/temporal-ui-server  schema/postgresql/v12/…  ui-config/docker.yaml
# Used by scripts/cluster.sh and the cluster test stage.
set -euo pipefail
SERVER_VERSION=1.32.2
UI_VERSION=2.58.1
UI_API_VERSION=v1.64.3
TOOLCHAIN=${TEMPERA_GO_TOOLCHAIN:-go1.27.3}
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/temporal-server-$SERVER_VERSION"
say() { printf '[tempera] %s\n' "$*" >&2; }

if [ -x "$TARGET/bin/temporal-server" ] && [ -x "$TARGET/bin/temporal-sql-tool" ] \
  && [ -x "$TARGET/bin/temporal-ui-server" ] && [ -f "$TARGET/schema/postgresql/v12/temporal/schema.sql" ] \
  && [ -f "$TARGET/ui-config/docker.yaml" ]; then
  echo "$TARGET"; exit 0
fi

GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; }
if [ -z "$GO" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # Debian's Go only needs to be new enough (>= 1.21) to fetch the toolchain below from the proxy
    say "installing Go from Debian's packages (to fetch $TOOLCHAIN from the Go module proxy)"
    (apt-get install -y -qq golang-go >/dev/null 2>&1) || (apt-get update -qq >/dev/null && apt-get install -y -qq golang-go >/dev/null)
    GO=$(command -v go)
  else
    say "building the Temporal server needs Go (>= 1.21): install it"; exit 1
  fi
fi

started=$(date +%s)
partial="$TARGET/bin.partial"
rm -rf "$partial"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$TOOLCHAIN GOFLAGS=-mod=mod CGO_ENABLED=0
say "building the Temporal server $SERVER_VERSION and UI server $UI_VERSION with $TOOLCHAIN into $TARGET (once; 10–20 minutes on 2 cores)"
# each into a folder of its own (the server's and the UI's commands are both called 'server'), then renamed
install_as() {
  (cd "$work" && GOBIN="$partial/$1.d" "$GO" install "$2") >&2 || { say "building $2 failed (see above)"; exit 1; }
  mv "$partial/$1.d/$(basename "${2%@*}")" "$partial/$1"
  rmdir "$partial/$1.d"
}
mkdir -p "$partial"
install_as temporal-server "go.temporal.io/server/cmd/server@v$SERVER_VERSION"
install_as temporal-sql-tool "go.temporal.io/server/cmd/tools/sql@v$SERVER_VERSION"
# the UI server's own go.mod asks for go.temporal.io/api v1.64.0, which the proxy does not serve: built in a
# module of its own that takes the nearest patch release the proxy has (MVS picks the higher one)
(cd "$work" && mkdir ui && cd ui && "$GO" mod init tempera-ui-build >/dev/null 2>&1 \
  && "$GO" get "github.com/temporalio/ui-server/v2@v$UI_VERSION" "go.temporal.io/api@$UI_API_VERSION" \
  && "$GO" build -o "$partial/temporal-ui-server" github.com/temporalio/ui-server/v2/cmd/server) >&2 \
  || { say "building the Temporal UI server failed (see above)"; exit 1; }
# the SQL schema the schema tool applies, from the server's module
modcache=$("$GO" env GOMODCACHE)
rm -rf "$TARGET/schema"
mkdir -p "$TARGET/schema"
cp -r "$modcache/go.temporal.io/server@v$SERVER_VERSION/schema/postgresql" "$TARGET/schema/"
chmod -R u+w "$TARGET/schema"
# the UI server's own configuration, every setting from the environment (TEMPORAL_ADDRESS, TEMPORAL_UI_PORT,
# TEMPORAL_CODEC_ENDPOINT, …): run with --root "$TARGET" --config ui-config --env docker
rm -rf "$TARGET/ui-config"
mkdir -p "$TARGET/ui-config"
cp "$modcache/github.com/temporalio/ui-server/v2@v$UI_VERSION/config/docker.yaml" "$TARGET/ui-config/docker.yaml"
chmod -R u+w "$TARGET/ui-config"
rm -rf "$TARGET/bin"
mv "$partial" "$TARGET/bin"
say "Temporal server $SERVER_VERSION built in $(( $(date +%s) - started )) s ($(du -sh "$TARGET/bin" | cut -f1))"
echo "$TARGET"
