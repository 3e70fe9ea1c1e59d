#!/usr/bin/env bash
# Prints the path of a Python that has the real gradio package (PyPI), creating a virtual
# environment under .tempera/tools/ when there is none. Used by the Gradio backend's tests, which
# start real Gradio apps from testkit/gradio/. Quick when the environment is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.50.0
TARGET=.tempera/tools/gradio-$VERSION
PY="$(pwd)/$TARGET/bin/python"
if [ -n "${TEMPERA_GRADIO_PYTHON:-}" ] && [ -x "$TEMPERA_GRADIO_PYTHON" ] \
    && "$TEMPERA_GRADIO_PYTHON" -c 'import gradio' >/dev/null 2>&1; then
  echo "$TEMPERA_GRADIO_PYTHON"; exit 0
fi
if [ -x "$PY" ] && "$PY" -c "import gradio, sys; sys.exit(0 if gradio.__version__ == '$VERSION' else 1)" >/dev/null 2>&1; then
  echo "$PY"; exit 0
fi
command -v python3 >/dev/null || { echo "[tempera] the Gradio tests need python3 (3.10+)" >&2; exit 1; }
echo "[tempera] installing gradio==$VERSION from PyPI into $TARGET (once; takes a minute)" >&2
rm -rf "$TARGET"
python3 -m venv "$TARGET" >&2
"$PY" -m pip install --quiet --disable-pip-version-check "gradio==$VERSION" >&2
"$PY" -c "import gradio; print('[tempera] gradio', gradio.__version__, 'ready', flush=True)" >&2
echo "$PY"
