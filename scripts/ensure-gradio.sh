#!/usr/bin/env bash
# Prints the path of a Python that has the real gradio package (PyPI), creating a virtual
# environment in the tools cache outside the clone (~/.cache/tempera/tools/, or
# $TEMPERA_CACHE_DIR/tools) when there is none, so a fresh clone reuses it. Used by the Gradio backend's tests, which
# start real Gradio apps from testkit/gradio/. Quick when the environment is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.50.0
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/gradio-$VERSION"
PY="$TARGET/bin/python"
mkdir -p "$(dirname "$TARGET")"
if [ -n "${TEMPERA_GRADIO_PYTHON:-}" ] && [ -x "$TEMPERA_GRADIO_PYTHON" ] \
    && "$TEMPERA_GRADIO_PYTHON" -c 'import importlib.metadata as m; m.version("gradio")' >/dev/null 2>&1; then
  echo "$TEMPERA_GRADIO_PYTHON"; exit 0
fi
# (the installed version from its metadata: importing gradio itself takes seconds)
if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('gradio') == '$VERSION' else 1)" >/dev/null 2>&1; then
  echo "$PY"; exit 0
fi
command -v python3 >/dev/null || { echo "[tempera] the Gradio tests need python3 (3.10+)" >&2; exit 1; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { echo "[tempera] gradio $VERSION needs Python 3.10 or newer; python3 is $(python3 --version 2>&1)" >&2; exit 1; }
echo "[tempera] installing gradio==$VERSION from PyPI into $TARGET (once; takes a minute or two)" >&2
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
"$PY" -m pip install --quiet --disable-pip-version-check "gradio==$VERSION" >&2
"$PY" -c "import gradio; print('[tempera] gradio', gradio.__version__, 'ready', flush=True)" >&2
echo "$PY"
