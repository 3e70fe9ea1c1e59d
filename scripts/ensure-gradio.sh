#!/usr/bin/env bash
# Prints the path of a Python that has the real gradio package (PyPI), creating a virtual
# environment in the tools cache outside the clone (~/.cache/tempera/tools/, or
# $TEMPERA_CACHE_DIR/tools) when there is none, so a fresh clone reuses it. Used by the Gradio backend's tests, which
# start real Gradio apps from testkit/gradio/. Quick when the environment is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=gradio
VERSION=5.50.0
PIP_SPEC="gradio==$VERSION"
MIN_PYTHON=10
OVERRIDE="${TEMPERA_GRADIO_PYTHON:-}"
OVERRIDE_CHECK='import importlib.metadata as m; m.version("gradio")'
# (the installed version from its metadata: importing gradio itself takes seconds)
INSTALLED_CHECK="import importlib.metadata as m, sys; sys.exit(0 if m.version('gradio') == '$VERSION' else 1)"
NEEDED_BY="the Gradio tests need"
INSTALL_NOTE="; takes a minute or two"
READY="import gradio; print('[tempera] gradio', gradio.__version__, 'ready', flush=True)"
. scripts/lib/python-tool.sh
