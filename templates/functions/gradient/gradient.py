"""Tempera script backend example: reads the request from stdin, reports progress, writes a PNG.

Protocol (see ScriptBackend): stdin is one JSON object {runId, parameters, tier, inputs, outputDir};
stdout lines {"type":"progress",...} and a final {"type":"result","outputs":[...]}.
Standard library only.
"""
import json
import os
import struct
import sys
import zlib

request = json.load(sys.stdin)
params = request["parameters"]
size = int(request["tier"].get("size", 256))
top, bottom = int(params.get("top", 0)), int(params.get("bottom", 0xFFFFFF))


def channel(color, shift):
    return (color >> shift) & 0xFF


rows = []
for y in range(size):
    t = y / max(1, size - 1)
    pixel = bytes(round(channel(top, s) * (1 - t) + channel(bottom, s) * t) for s in (16, 8, 0))
    rows.append(b"\x00" + pixel * size)
    if y % max(1, size // 8) == 0:
        print(json.dumps({"type": "progress", "progress": y / size, "step": y + 1, "totalSteps": size}), flush=True)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"".join(rows)))
       + chunk(b"IEND", b""))
with open(os.path.join(request["outputDir"], "gradient.png"), "wb") as f:
    f.write(png)
print(json.dumps({"type": "result", "outputs": ["gradient.png"]}), flush=True)
