#!/usr/bin/env bash
# Prints (the only line on stdout) a ComfyUI models folder with tiny random-weight models in the real
# formats (scripts/comfyui/make_tiny_models.py says which), making it when there is none: in the
# cache outside the clone, ~/.cache/tempera/models/tiny-<hash of make_tiny_models.py>/ (or
# $TEMPERA_CACHE_DIR/models), so CI and a fresh clone reuse it and a change to the script makes a
# new one. Nothing is downloaded. Needs the real ComfyUI (scripts/ensure-comfyui.sh, or
# TEMPERA_COMFYUI_HOME). TEMPERA_COMFYUI_MODELS names another models folder instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${TEMPERA_COMFYUI_MODELS:-}" ]; then
  [ -d "$TEMPERA_COMFYUI_MODELS" ] || { echo "[tempera] TEMPERA_COMFYUI_MODELS=$TEMPERA_COMFYUI_MODELS is not a folder" >&2; exit 1; }
  echo "$TEMPERA_COMFYUI_MODELS"; exit 0
fi
SCRIPT=scripts/comfyui/make_tiny_models.py
HASH=$(sha256sum "$SCRIPT" | cut -c1-12)
TARGET="${TEMPERA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tempera}/models/tiny-$HASH"
if [ -f "$TARGET/tiny-models.json" ]; then
  echo "$TARGET/"; exit 0
fi
COMFYUI_HOME=$(scripts/ensure-comfyui.sh)
echo "[tempera] making tiny random-weight models (once) in $TARGET" >&2
mkdir -p "$(dirname "$TARGET")"
WORK="$TARGET.part-$$"
rm -rf "$WORK"
trap 'rm -rf "$WORK"' EXIT
# ComfyUI prints its start-up lines on stdout: they go to stderr here, stdout is the folder only
"$COMFYUI_HOME/venv/bin/python" "$SCRIPT" "$COMFYUI_HOME/ComfyUI" "$WORK" >&2
rm -rf "$TARGET"
mv "$WORK" "$TARGET"
echo "$TARGET/"
