"""Benchmark script backend: reports progress at a fixed rate for a while, then writes a tiny PNG.

Parameters: hz (progress lines per second), seconds (how long). Standard library only.
"""
import json
import os
import struct
import sys
import time
import zlib

request = json.load(sys.stdin)
params = request["parameters"]
hz = float(params.get("hz", 25))
seconds = float(params.get("seconds", 6))
steps = max(1, int(hz * seconds))
start = time.monotonic()
for step in range(1, steps + 1):
    # paced against the start, so a late wake-up does not slow the whole run down
    delay = start + step / hz - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    print(json.dumps({"type": "progress", "progress": step / steps, "step": step, "totalSteps": steps}), flush=True)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = (b"\x89PNG\r\n\x1a\n"
       + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\x00" + b"\x20\x40\x80" * 2 + b"\x00" + b"\x80\x40\x20" * 2))
       + chunk(b"IEND", b""))
with open(os.path.join(request["outputDir"], "ticker.png"), "wb") as f:
    f.write(png)
print(json.dumps({"type": "result", "outputs": ["ticker.png"]}), flush=True)
