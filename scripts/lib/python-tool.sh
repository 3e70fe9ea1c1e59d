# Sourced by the scripts/ensure-<tool>.sh that need a Python package from PyPI (gradio, celery):
# prints the path of a Python that has it, creating a virtual environment in the tools cache outside
# the clone (~/.cache/tempera/tools/<tool>-<version>, or $TEMPERA_CACHE_DIR/tools) when there is
# none, so a fresh clone reuses it. Quick when the environment is already there.
#
# The sourcing script sets:
#   TOOL, VERSION   the cache folder's name: $TOOL-$VERSION
#   PIP_SPEC        what pip installs, e.g. "celery[redis]==5.7.0"
#   PIP_EXTRA       (optional) a bash array of further requirements pip installs with it in the same
#                   resolve, e.g. PIP_EXTRA=("pydantic==2.10.6") to pin an old release's dependencies
#   MIN_PYTHON      the lowest Python 3 minor version the package supports, e.g. 10
#   OVERRIDE        a Python the caller names instead (may be empty), used when OVERRIDE_CHECK runs
#   OVERRIDE_CHECK  Python code that succeeds when OVERRIDE has the package
#   INSTALLED_CHECK Python code that succeeds when the cached environment has the right version
#   NEEDED_BY       who needs it, with the verb ("the Gradio tests need"), for when python3 is missing
#   INSTALL_NOTE    said after "(once" while installing, e.g. "; takes a minute or two"
#   READY           Python code that prints what was installed
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/$TOOL-$VERSION"
PY="$TARGET/bin/python"
mkdir -p "$(dirname "$TARGET")"
if [ -n "$OVERRIDE" ] && [ -x "$OVERRIDE" ] && "$OVERRIDE" -c "$OVERRIDE_CHECK" >/dev/null 2>&1; then
  echo "$OVERRIDE"; exit 0
fi
if [ -x "$PY" ] && "$PY" -c "$INSTALLED_CHECK" >/dev/null 2>&1; then
  echo "$PY"; exit 0
fi
command -v python3 >/dev/null || { echo "[tempera] $NEEDED_BY python3 (3.$MIN_PYTHON+)" >&2; exit 1; }
python3 -c "import sys; sys.exit(0 if sys.version_info >= (3, $MIN_PYTHON) else 1)" \
  || { echo "[tempera] $TOOL $VERSION needs Python 3.$MIN_PYTHON or newer; python3 is $(python3 --version 2>&1)" >&2; exit 1; }
echo "[tempera] installing $PIP_SPEC${PIP_EXTRA[*]+ ${PIP_EXTRA[*]}} from PyPI into $TARGET (once$INSTALL_NOTE)" >&2
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
"$PY" -m pip install --quiet --disable-pip-version-check "$PIP_SPEC" ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} >&2
"$PY" -c "$READY" >&2
echo "$PY"
