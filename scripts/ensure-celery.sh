#!/usr/bin/env bash
# Prints the path of a Python that has Celery with its Redis transport (PyPI `celery[redis]`),
# creating a virtual environment in the tools cache outside the clone (~/.cache/tempera/tools/, or
# $TEMPERA_CACHE_DIR/tools) when there is none, so a fresh clone reuses it. Used by JobQueueBench
# (bench/celery/: Celery + Redis doing the same job as a Tempera generation). The task itself needs
# only the standard library (HTTP and a minimal WebSocket client). Quick when the environment is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=celery
VERSION=5.7.0
PIP_SPEC="celery[redis]==$VERSION"
MIN_PYTHON=9
OVERRIDE="${TEMPERA_CELERY_PYTHON:-}"
OVERRIDE_CHECK='import celery, redis'
INSTALLED_CHECK="import importlib.metadata as m, sys; import redis; sys.exit(0 if m.version('celery') == '$VERSION' else 1)"
NEEDED_BY="the Celery benchmark needs"
INSTALL_NOTE=""
READY="import celery, redis; print('[tempera] celery', celery.__version__, 'with redis', redis.__version__, 'ready', flush=True)"
. scripts/lib/python-tool.sh
