"""The job a Tempera generation of the bench's `instant` function does, written as a plain Python
client of ComfyUI (standard library only: http.client and a minimal WebSocket client).

It makes the same HTTP exchange as Tempera's ComfyUiClient.run, so that "the backend call" means the
same thing on both sides:
  GET /history/{id}   (already finished? then re-attach: a redelivered task never runs it twice)
  open /ws?clientId=  (before submitting, so no event is missed)
  GET /queue, GET /history/{id}  (already queued or finished?)
  POST /prompt {prompt, client_id, prompt_id}
  GET /queue          (its queue position)
  wait for `executing` with node null for the prompt (or an error/interrupt event)
  GET /history/{id}   (the outputs)
and then, outside the backend call as in Tempera (its collect step), GET /view of each output image
written to disk.

`run_job` returns the backend call's start and end on CLOCK_MONOTONIC (time.monotonic_ns, the clock
Java's System.nanoTime reads on Linux).
"""

import base64
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
GRAPH_FILE = os.path.join(HERE, "..", "templates", "instant", "graph.json")
with open(GRAPH_FILE, encoding="utf-8") as f:
    GRAPH = json.load(f)

# the instant template's only parameter: {"parameter": "color", "target": "1.inputs.color"}
COLOR_NODE, COLOR_INPUT = "1", "color"
TIMEOUT = 60.0
# as ComfyUiClientOptions.defaults().wsIdlePoll(): a socket quiet this long makes it poll /history
IDLE_POLL = 2.0

_local = threading.local()


def graph_for(color):
    """The instant graph with a new colour (as BenchSystem.run: color % 16_777_215)."""
    graph = json.loads(json.dumps(GRAPH))
    graph[COLOR_NODE]["inputs"][COLOR_INPUT] = color % 16_777_215
    return graph


class Comfy:
    """One keep-alive HTTP connection to ComfyUI (one per worker process/thread)."""

    def __init__(self, base_url):
        url = urllib.parse.urlsplit(base_url)
        self.host = url.hostname
        self.port = url.port or 80
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, payload=None):
        status, data = self.request(
            method, path, None if payload is None else json.dumps(payload).encode()
        )
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def history(self, prompt_id):
        entry = self.json("GET", "/history/" + prompt_id).get(prompt_id)
        return entry or None

    def queued(self, prompt_id):
        queue = self.json("GET", "/queue")
        for item in queue.get("queue_running", []) + queue.get("queue_pending", []):
            if len(item) > 1 and item[1] == prompt_id:
                return True
        return False


class WebSocket:
    """A minimal RFC 6455 client: enough to read ComfyUI's text events (and skip binary previews)."""

    def __init__(self, host, port, path):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the WebSocket handshake was cut")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.pos = 0
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"the WebSocket handshake was refused: {head[:200]!r}")

    def _read(self, n):
        while len(self.buf) - self.pos < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the WebSocket closed")
            self.buf += chunk
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode, 0x80 | len(payload)])  # control frames only (< 126 bytes)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv_text(self):
        """The next text message (binary messages are skipped; pings answered)."""
        message, kind = b"", None
        while True:
            self.buf, self.pos = self.buf[self.pos :], 0  # a frame starts at 0
            try:
                frame = self._frame()
            except TimeoutError:
                self.pos = 0  # a frame cut by the timeout is read again whole next time
                raise
            fin, opcode, payload = frame
            if opcode == 0x8:
                raise ConnectionError("the WebSocket was closed by the server")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                kind, message = opcode, payload
            else:  # continuation
                message += payload
            if fin:
                if kind == 0x1:
                    return message.decode("utf-8")
                message, kind = b"", None

    def _frame(self):
        """One frame: (fin, opcode, payload)."""
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._read(8))
        mask = self._read(4) if b1 & 0x80 else None
        payload = self._read(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b0 & 0x80, b0 & 0x0F, payload

    def close(self):
        try:
            self._send(0x8)
        except OSError:
            pass
        self.sock.close()


def client(base_url):
    """This thread's ComfyUI connection (made once)."""
    comfy = getattr(_local, "comfy", None)
    if comfy is None or getattr(_local, "base_url", None) != base_url:
        comfy = _local.comfy = Comfy(base_url)
        _local.base_url = base_url
    return comfy


def run_job(base_url, prompt_id, color, out_dir):
    """Runs the instant graph once with `color` under `prompt_id` (a lowercase UUID) and writes its
    output image(s) to `out_dir`. Returns the backend call's [start, end] (monotonic ns), the files
    written and their bytes."""
    comfy = client(base_url)
    client_id = "celery-" + prompt_id
    start = time.monotonic_ns()
    entry = comfy.history(prompt_id)
    if entry is None:
        ws = WebSocket(comfy.host, comfy.port, "/ws?clientId=" + urllib.parse.quote(client_id))
        try:
            # ComfyUI greets a new socket with a `status` message once it is registered for the
            # client id; waiting for it means no event of ours can go to nobody
            ws.recv_text()
            ws.sock.settimeout(IDLE_POLL)
            if not comfy.queued(prompt_id):
                entry = comfy.history(prompt_id)
                if entry is None:
                    comfy.json(
                        "POST",
                        "/prompt",
                        {"prompt": graph_for(color), "client_id": client_id, "prompt_id": prompt_id},
                    )
            if entry is None:
                comfy.queued(prompt_id)
                while True:
                    try:
                        event = json.loads(ws.recv_text())
                    except TimeoutError:
                        # a quiet socket: poll the history, as Tempera's client does
                        entry = comfy.history(prompt_id)
                        if entry is not None:
                            break
                        continue
                    data = event.get("data") or {}
                    if data.get("prompt_id") != prompt_id:
                        continue
                    kind = event.get("type")
                    if (kind == "executing" and data.get("node") is None) or kind in (
                        "execution_error",
                        "execution_interrupted",
                    ):
                        break
                for _ in range(20):  # the history is written before the terminal event
                    if entry is not None:
                        break
                    entry = comfy.history(prompt_id)
                    if entry is not None:
                        break
                    time.sleep(0.05)
        finally:
            ws.close()
    end = time.monotonic_ns()
    if entry is None:
        raise RuntimeError(f"prompt {prompt_id} ended but /history has no entry for it")
    status = (entry.get("status") or {}).get("status_str")
    if status != "success":
        raise RuntimeError(f"prompt {prompt_id} ended {status}: {entry.get('status')}")
    files, size = [], 0
    os.makedirs(out_dir, exist_ok=True)
    for node_output in (entry.get("outputs") or {}).values():
        for image in node_output.get("images", []):
            query = urllib.parse.urlencode(
                {
                    "filename": image["filename"],
                    "subfolder": image.get("subfolder", ""),
                    "type": image.get("type", "output"),
                }
            )
            code, data = comfy.request("GET", "/view?" + query)
            if code != 200:
                raise RuntimeError(f"/view answered {code} for {image['filename']}")
            target = os.path.join(out_dir, prompt_id + "_" + os.path.basename(image["filename"]))
            with open(target, "wb") as out:
                out.write(data)
            files.append(target)
            size += len(data)
    if not files:
        raise RuntimeError(f"prompt {prompt_id} produced no image")
    return {"call": [start, end], "files": files, "bytes": size}
