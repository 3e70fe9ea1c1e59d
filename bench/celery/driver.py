"""Drives the Celery baseline of JobQueueBench and prints one JSON object of figures.

  driver.py ping                             a task through the worker (waits up to 60 s)
  driver.py depth IN_FLIGHT COUNT FIRST_COLOR keeps IN_FLIGHT tasks in flight until COUNT are done

Colours FIRST_COLOR .. FIRST_COLOR + COUNT + 3 are used (4 warm-up runs first, not measured).
  driver.py sequential COUNT FIRST_COLOR      one task at a time through Celery
  driver.py direct COUNT FIRST_COLOR          the same job called in this process, no queue

A task is sent with apply_async and its result comes back through the Redis result backend (the
driver subscribes to a task's result before sending it, and drains the backend's pub/sub on one
thread). Figures, defined as JobQueueBench defines them for Tempera:
  backend busy        = wall time with at least one backend call in progress / wall time
  slots in calls      = time inside backend calls / (wall time x 2 slots)
  gap per generation  = (wall time x 2 slots - time inside backend calls) / generations: the slot
                        time each generation cost beyond its backend call
  latency             = submit to result received, per task
  overhead            = latency - that task's backend call
"""

import json
import math
import os
import sys
import time
import uuid

import comfy_job

SLOTS = 2


def percentile(values, p):
    """As BenchSystem.percentile: the ceil(p% x n)-th smallest."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = math.ceil(p / 100.0 * len(ordered)) - 1
    return ordered[max(0, min(len(ordered) - 1, index))]


def occupied(calls, start, end):
    """Nanoseconds within [start, end] during which at least one call was in progress."""
    spans = sorted((max(a, start), min(b, end)) for a, b in calls if min(b, end) > max(a, start))
    total, cur_start, cur_end = 0, None, None
    for a, b in spans:
        if cur_end is None or a > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def figures(mode, in_flight, start, end, done, failed, errors):
    seconds = (end - start) / 1e9
    calls = [d["call"] for d in done]
    inside = sum(b - a for a, b in calls)
    latencies = [d["latency_ns"] / 1e6 for d in done]
    overheads = [(d["latency_ns"] - (d["call"][1] - d["call"][0])) / 1e6 for d in done]
    backend = [(d["call"][1] - d["call"][0]) / 1e6 for d in done]
    n = len(done) + failed
    return {
        "mode": mode,
        "in_flight": in_flight,
        "generations": n,
        "failed": failed,
        "errors": errors[:3],
        "seconds": seconds,
        "per_minute": n / seconds * 60 if seconds > 0 else 0,
        "backend_busy": occupied(calls, start, end) / (end - start) if end > start else 0,
        "slots_in_calls": inside / (SLOTS * (end - start)) if end > start else 0,
        "gap_ms": (SLOTS * (end - start) - inside) / 1e6 / n if n else float("nan"),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "overhead_p50_ms": percentile(overheads, 50),
        "overhead_p99_ms": percentile(overheads, 99),
        "backend_p50_ms": percentile(backend, 50),
        "backend_p99_ms": percentile(backend, 99),
    }


def depth(in_flight, count, color, sequential=False):
    from celery.exceptions import TimeoutError as CeleryTimeout
    from tempera_celery import app, generate

    consumer = app.backend.result_consumer
    pending = {}  # task id -> (AsyncResult, sent at)
    done, errors = [], []
    failed = 0
    sent = 0
    last_progress = time.monotonic()

    def finished(result):
        nonlocal failed, last_progress
        entry = pending.pop(result.id, None)
        if entry is None:
            return
        last_progress = time.monotonic()
        latency = time.monotonic_ns() - entry[1]
        if result.successful():
            value = result.result
            done.append({"call": value["call"], "latency_ns": latency})
        else:
            failed += 1
            errors.append(repr(result.result))

    def send():
        nonlocal sent
        task_id = str(uuid.uuid4())
        result = generate.AsyncResult(task_id)
        # subscribed before it is sent, so a result never arrives unheard
        result.then(finished)
        pending[task_id] = (result, time.monotonic_ns())
        generate.apply_async((color + sent,), task_id=task_id)
        sent += 1

    window = 1 if sequential else in_flight
    # warm-up, not measured: the broker and backend connections, the worker's first tasks
    for k in range(4):
        generate.apply_async((color + count + k,)).get(timeout=60)
    start = time.monotonic_ns()
    while sent < count or pending:
        while sent < count and len(pending) < window:
            send()
        try:
            consumer.drain_events(timeout=0.5)
        except (CeleryTimeout, TimeoutError, OSError):
            pass
        if time.monotonic() - last_progress > 5:
            # a result missed on pub/sub would stall the window: read any stored ones directly
            for task_id, (result, _) in list(pending.items()):
                meta = app.backend.get_task_meta(task_id)
                if meta.get("status") in ("SUCCESS", "FAILURE"):
                    result._maybe_set_cache(meta)
            if time.monotonic() - last_progress > 120:
                raise SystemExit(
                    json.dumps({"error": f"no task finished for 120 s ({len(pending)} in flight)"})
                )
    end = time.monotonic_ns()
    mode = "sequential" if sequential else "depth"
    return figures(mode, window, start, end, done, failed, errors)


def direct(count, color):
    base_url = os.environ["TEMPERA_COMFY_URL"]
    out = os.environ.get("TEMPERA_CELERY_OUT", "/tmp/tempera-celery-out")
    done, errors = [], []
    failed = 0
    for k in range(4):  # warm-up, not measured
        comfy_job.run_job(base_url, str(uuid.uuid4()), color + count + k, out)
    start = time.monotonic_ns()
    for i in range(count):
        began = time.monotonic_ns()
        try:
            value = comfy_job.run_job(base_url, str(uuid.uuid4()), color + i, out)
            done.append({"call": value["call"], "latency_ns": time.monotonic_ns() - began})
        except Exception as e:  # a failed run is counted, not hidden
            failed += 1
            errors.append(repr(e))
    end = time.monotonic_ns()
    return figures("direct", 1, start, end, done, failed, errors)


def ping(color):
    from tempera_celery import generate

    began = time.monotonic()
    value = generate.apply_async((color,)).get(timeout=60)
    return {"mode": "ping", "seconds": time.monotonic() - began, "bytes": value["bytes"]}


def main(argv):
    mode = argv[1] if len(argv) > 1 else "ping"
    if mode == "ping":
        result = ping(int(argv[2]) if len(argv) > 2 else 1)
    elif mode == "depth":
        result = depth(int(argv[2]), int(argv[3]), int(argv[4]))
    elif mode == "sequential":
        result = depth(1, int(argv[2]), int(argv[3]), sequential=True)
    elif mode == "direct":
        result = direct(int(argv[2]), int(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
