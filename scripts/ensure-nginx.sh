#!/usr/bin/env bash
# Installs Debian's nginx when it is missing: the multi-host cluster test puts its two API instances
# behind one address with deploy/compose/nginx.conf, as a deployment does. Prints the binary's path.
set -euo pipefail
found() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }
if path=$(found); then echo "$path"; exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[tempera] installing nginx from Debian's packages" >&2
  # no service is started here (no init system); the test runs its own nginx in the foreground
  (apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null 2>&1) \
    || (apt-get update -qq >/dev/null && apt-get install -y -qq nginx >/dev/null)
  found
else
  echo "[tempera] the multi-host test needs nginx: install it (e.g. apt-get install nginx)" >&2
  exit 1
fi
