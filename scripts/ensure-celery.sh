#!/usr/bin/env bash
# Prints the path of a Python that has Celery with its Redis transport (PyPI `celery[redis]`),
# creating a virtual environment in the tools cache outside the clone (~/.cache/tempera/tools/, or
# $TEMPERA_CACHE_DIR/tools) when there is none, so a fresh clone reuses it. Used by JobQueueBench
# (bench/celery/: Celery + Redis doing the same job as a Tempera generation). The task itself needs
# only the standard library (HTTP and a minimal WebSocket client). Quick when the environment is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.7.0
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/celery-$VERSION"
PY="$TARGET/bin/python"
mkdir -p "$(dirname "$TARGET")"
if [ -n "${TEMPERA_CELERY_PYTHON:-}" ] && [ -x "$TEMPERA_CELERY_PYTHON" ] \
    && "$TEMPERA_CELERY_PYTHON" -c 'import celery, redis' >/dev/null 2>&1; then
  echo "$TEMPERA_CELERY_PYTHON"; exit 0
fi
if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys; import redis; sys.exit(0 if m.version('celery') == '$VERSION' else 1)" >/dev/null 2>&1; then
  echo "$PY"; exit 0
fi
command -v python3 >/dev/null || { echo "[tempera] the Celery benchmark needs python3 (3.9+)" >&2; exit 1; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || { echo "[tempera] celery $VERSION needs Python 3.9 or newer; python3 is $(python3 --version 2>&1)" >&2; exit 1; }
echo "[tempera] installing celery[redis]==$VERSION from PyPI into $TARGET (once)" >&2
rm -rf "$TARGET"
if ! python3 -m venv "$TARGET" >&2; then
  # Debian's python3 ships venv's ensurepip separately
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$TARGET"
    python3 -m venv "$TARGET" >&2
  else
    echo "[tempera] python3 cannot create a virtual environment: install python3-venv" >&2; exit 1
  fi
fi
"$PY" -m pip install --quiet --disable-pip-version-check "celery[redis]==$VERSION" >&2
"$PY" -c "import celery, redis; print('[tempera] celery', celery.__version__, 'with redis', redis.__version__, 'ready', flush=True)" >&2
echo "$PY"
