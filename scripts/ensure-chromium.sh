#!/usr/bin/env bash
# Installs Debian's chromium when it is missing (the try-it page's browser test drives it with
# playwright-core; Playwright's own browser download does not work here). Prints its path.
# With CI=true a missing chromium that cannot be installed fails; otherwise it only warns and exits 2.
set -euo pipefail
find_chromium() { for c in "${TEMPERA_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }; done; return 1; }
if find_chromium; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[tempera] installing chromium from Debian's packages (for the browser test)" >&2
  (apt-get install -y -qq chromium >/dev/null 2>&1) || (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null) || true
fi
if find_chromium; then exit 0; fi
echo "[tempera] the browser test needs Chromium: install it (apt-get install chromium) or set TEMPERA_CHROMIUM" >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi
exit 2
