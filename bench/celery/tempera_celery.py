"""Celery + Redis doing the job of one Tempera generation (JobQueueBench's baseline).

Configured as a Celery user would for long GPU jobs, and as close to durable as Celery gets:
- task_acks_late: the broker message is acknowledged only when the task has finished, so a worker
  that dies mid-task leaves it to be delivered again (at-least-once, not at-most-once);
- task_reject_on_worker_lost: the same when the pool's child process is killed;
- worker_prefetch_multiplier = 1: a worker reserves one task per process (with acks_late, exactly
  the ones it is running), so a long job never waits behind another on a busy worker while an idle
  worker has nothing — Celery's documented setting for long tasks;
- concurrency 2 (set on the worker's command line) = Tempera's 2 slots.
The task is idempotent by its prompt id (the task id): a redelivered task re-attaches to the
prompt instead of running it twice (see comfy_job.py).

Environment: TEMPERA_CELERY_BROKER (redis://127.0.0.1:PORT/0), TEMPERA_COMFY_URL, TEMPERA_CELERY_OUT.
"""

import os

from celery import Celery

import comfy_job

BROKER = os.environ.get("TEMPERA_CELERY_BROKER", "redis://127.0.0.1:6379/0")

app = Celery("tempera_bench", broker=BROKER, backend=BROKER)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=3600,
)


@app.task(name="tempera.generate")
def generate(color):
    """One generation: the instant graph with a new colour, its image written to disk."""
    return comfy_job.run_job(
        os.environ["TEMPERA_COMFY_URL"],
        generate.request.id,
        color,
        os.environ.get("TEMPERA_CELERY_OUT", "/tmp/tempera-celery-out"),
    )
