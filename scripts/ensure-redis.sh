#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing (the progress-bus tests start their own).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[tempera] installing redis-server from Debian's packages" >&2
  (apt-get install -y -qq redis-server >/dev/null 2>&1) || (apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null)
else
  echo "[tempera] the tests need redis-server: install it (e.g. apt-get install redis-server)" >&2
  exit 1
fi
