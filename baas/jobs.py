"""Background jobs without Redis: a Celery worker thread inside the server process.

Embedded mode uses Celery's in-memory broker, so the same tasks run asynchronously,
outside the request, with no extra process and no Redis. Because the worker shares the
process, events it publishes reach WebSocket subscribers on the in-process channel layer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import worker as celery_worker
from django.conf import settings

from baas.celery import app

logger = logging.getLogger("baas.jobs")
_lock = threading.Lock()
_worker: EmbeddedWorker | None = None


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
        return worker
