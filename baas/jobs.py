"""Background jobs without Redis: a Celery worker thread inside the server process.

Embedded mode uses Celery's in-memory broker, so the same tasks run asynchronously,
outside the request, with no extra process and no Redis. Because the worker shares the
process, events it publishes reach WebSocket subscribers on the in-process channel layer.

Periodic jobs (``app.conf.beat_schedule``) come from a beat thread beside the worker: the
in-memory broker is per process, so a separate ``celery beat`` could not reach it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import beat
from celery import worker as celery_worker
from celery.schedules import schedule
from django.conf import settings

from baas.celery import app

logger = logging.getLogger("baas.jobs")
_lock = threading.Lock()
_worker: EmbeddedWorker | None = None
_beat: Any = None
FIRST_RUN_DELAY = 60.0


class EmbeddedScheduler(beat.Scheduler):
    """Beat's in-memory scheduler, with every interval job first run a minute after start.

    Not the persistent (shelve) scheduler: several embedded server processes may share a
    data dir and must not share that file. Running soon after start instead of one full
    interval later means a server that restarts often still runs its housekeeping.
    """

    def setup_schedule(self) -> None:
        super().setup_schedule()
        now = self.app.now()
        for entry in self.schedule.values():
            if type(entry.schedule) is schedule:  # intervals, not crontabs
                wait = min(FIRST_RUN_DELAY, entry.schedule.run_every.total_seconds())
                entry.last_run_at = now - entry.schedule.run_every + timedelta(seconds=wait)


class EmbeddedWorker(celery_worker.WorkController):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.started = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self.started.set()


def embedded_worker_start(*, concurrency: int = 4, wait: float = 10.0) -> EmbeddedWorker | None:
    """Start the in-process worker once (no-op in services mode)."""
    global _worker
    if not settings.BAAS_EMBEDDED_WORKER:
        return None
    with _lock:
        if _worker is not None:
            return _worker
        app.finalize()
        worker = EmbeddedWorker(
            app=app,
            pool="threads",
            concurrency=concurrency,
            hostname=f"embedded@{threading.get_native_id()}",
            ready_callback=None,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        thread = threading.Thread(target=worker.start, name="baas-jobs", daemon=True)
        thread.start()
        if not worker.started.wait(wait):
            raise RuntimeError("embedded job worker did not start")
        _worker = worker
        logger.info("embedded job worker started")
        embedded_beat_start()
        return worker


def embedded_beat_start() -> Any:
    """Start the in-process beat thread once (callers hold ``_lock``)."""
    global _beat
    if _beat is None:
        _beat = beat.EmbeddedService(app, thread=True, scheduler_cls=EmbeddedScheduler)
        _beat.start()
    return _beat
