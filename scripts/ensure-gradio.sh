#!/usr/bin/env bash
# Usage: scripts/ensure-gradio.sh [4|5|6]   (the major version; default 5)
#
# Prints the path of a Python that has the real gradio package (PyPI) of that major version,
# creating a virtual environment in the tools cache outside the clone (~/.cache/tempera/tools/
# gradio-<version>, or $TEMPERA_CACHE_DIR/tools) when there is none or it holds another version, so
# a fresh clone reuses it. Each major version has its own venv:
#   4  gradio 4.44.1, the last 4.x (its old dependency ranges install only with huggingface_hub<1,
#      pydantic 2.10.6 and fastapi 0.115.0 pinned beside it)
#   5  gradio 5.50.0, the last 5.x
#   6  gradio 6.31.0, the newest 6.x on PyPI when this was written (raise it here to follow 6.x)
# TEMPERA_GRADIO_PYTHON_<major> names a Python to use instead (TEMPERA_GRADIO_PYTHON too, for 5),
# when it has gradio of that major version. Used by the Gradio backend's tests, which start real
# Gradio apps from testkit/gradio/. Quick when the environment is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MAJOR="${1:-5}"
PIP_EXTRA=()
case "$MAJOR" in
  4)
    VERSION=4.44.1
    PIP_EXTRA=("huggingface_hub<1" "pydantic==2.10.6" "fastapi==0.115.0")
    OVERRIDE="${TEMPERA_GRADIO_PYTHON_4:-}"
    ;;
  5)
    VERSION=5.50.0
    OVERRIDE="${TEMPERA_GRADIO_PYTHON_5:-${TEMPERA_GRADIO_PYTHON:-}}"
    ;;
  6)
    VERSION=6.31.0
    OVERRIDE="${TEMPERA_GRADIO_PYTHON_6:-}"
    ;;
  *)
    echo "usage: scripts/ensure-gradio.sh [4|5|6]   (Gradio's major version; default 5)" >&2
    exit 2
    ;;
esac
TOOL=gradio
PIP_SPEC="gradio==$VERSION"
MIN_PYTHON=10
# (the installed version from its metadata: importing gradio itself takes seconds)
OVERRIDE_CHECK="import importlib.metadata as m, sys; sys.exit(0 if m.version('gradio').split('.')[0] == '$MAJOR' else 1)"
INSTALLED_CHECK="import importlib.metadata as m, sys; sys.exit(0 if m.version('gradio') == '$VERSION' else 1)"
NEEDED_BY="the Gradio tests need"
INSTALL_NOTE="; takes a minute or two"
READY="import gradio; print('[tempera] gradio', gradio.__version__, 'ready', flush=True)"
. scripts/lib/python-tool.sh
