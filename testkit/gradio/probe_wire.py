"""Records what a running Gradio app sends on the wire, to compare Gradio versions (VERSIONS.md).

    python testkit/gradio/probe_wire.py http://127.0.0.1:7862 [api_name ...] > wire-5.json

Standard library only: for every endpoint of kinds_app.py (or those named) it calls
  - the queue protocol: POST {p}/queue/join, then reads GET {p}/queue/data until the job's
    process_completed, keeping every message;
  - the two-step call protocol: POST {p}/call/<api>, then reads GET {p}/call/<api>/<event_id>;
and it keeps GET /config's version, api_prefix, protocol and the endpoint's dependency, and
{p}/info's description of the endpoint. With "queue" as the only api_name it records instead what
two /slow_text jobs get while the second waits behind the first (estimation, process_starts).
"""

import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

CALLS = {
    "/caption": ["a red cat"],
    "/count": ["a red cat"],
    "/describe": ["a red cat"],
    "/classify": ["a cat and a dog"],
    "/highlight": ["a red cat"],
    "/maybe": ["x", None],
    "/gallery_caption": ["a red cat", 3],
    "/files": ["a red cat"],
    "/webp": ["a red cat"],
    "/audio": ["a red cat"],
    "/stream_text": ["w"],
    "/stream_image": ["a red cat"],
    "/warn": ["fire"],
    "/refuse": ["a dog"],
    "/nothing": ["x"],
    "/slow_text": [0.5],
}


def http(method, url, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sse(url, stop, timeout=60):
    """Reads an event stream, returning [(event, data)] until stop(event, data) or its end."""
    frames = []
    with urllib.request.urlopen(url, timeout=timeout) as res:
        event = None
        for raw in res:
            line = raw.decode().rstrip("\n").rstrip("\r")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                text = line[5:].strip()
                try:
                    data = json.loads(text)
                except ValueError:
                    data = text
                frames.append([event, data] if event else data)
                if stop(event, data):
                    break
                event = None
    return frames


class App:
    def __init__(self, base):
        self.base = base.rstrip("/")
        status, text = http("GET", self.base + "/config")
        self.config = json.loads(text)
        self.prefix = self.config.get("api_prefix", "") or ""
        self.api = self.base + self.prefix
        self.deps = {}
        for position, dep in enumerate(self.config["dependencies"]):
            if dep.get("api_name"):
                self.deps["/" + dep["api_name"]] = (dep.get("id", position), dep)
        status, text = http("GET", self.api + "/info")
        self.info = json.loads(text)

    def queue(self, api_name, data, session=None):
        session = session or uuid.uuid4().hex[:10]
        fn_index, _ = self.deps[api_name]
        status, text = http(
            "POST",
            self.api + "/queue/join",
            {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
        )
        joined = {"status": status, "body": json.loads(text) if text.startswith("{") else text}
        if status != 200:
            return {"join": joined}
        frames = sse(
            self.api + "/queue/data?session_hash=" + session,
            lambda e, d: isinstance(d, dict) and d.get("msg") in ("process_completed", "close_stream", "unexpected_error"),
        )
        return {"join": joined, "stream": frames}

    def call(self, api_name, data):
        status, text = http("POST", self.api + "/call" + api_name, {"data": data})
        started = {"status": status, "body": json.loads(text) if text.startswith("{") else text}
        if status != 200:
            return {"post": started}
        event_id = started["body"]["event_id"]
        frames = sse(
            self.api + "/call" + api_name + "/" + event_id,
            lambda e, d: e in ("complete", "error"),
        )
        return {"post": started, "stream": frames}


def probe(app, names):
    report = {
        "version": app.config.get("version"),
        "api_prefix": app.config.get("api_prefix"),
        "protocol": app.config.get("protocol"),
        "endpoints": {},
    }
    for name in names:
        fn_index, dep = app.deps[name]
        info = app.info.get("named_endpoints", {}).get(name)
        entry = {
            "fn_index": fn_index,
            "dependency": {k: v for k, v in dep.items() if k not in ("js", "trigger_after", "trigger_only_on_success")},
            "info": info,
            "queue": app.queue(name, CALLS[name]),
            "call": app.call(name, CALLS[name]),
        }
        report["endpoints"][name] = entry
    return report


def queue_estimates(app):
    """Two /slow_text jobs, the second waiting behind the first (concurrency_limit=1)."""
    results = {}

    def run(key, seconds, delay):
        time.sleep(delay)
        results[key] = app.queue("/slow_text", [seconds])

    first = threading.Thread(target=run, args=("first", 1.5, 0))
    second = threading.Thread(target=run, args=("second", 0.2, 0.3))
    first.start()
    second.start()
    first.join()
    second.join()
    keep = ("estimation", "process_starts")
    return {
        key: [f for f in value["stream"] if isinstance(f, dict) and f.get("msg") in keep]
        for key, value in results.items()
    }


if __name__ == "__main__":
    app = App(sys.argv[1])
    wanted = sys.argv[2:]
    if wanted == ["queue"]:
        out = {"version": app.config.get("version"), "queue": queue_estimates(app)}
    else:
        out = probe(app, wanted or list(CALLS))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
