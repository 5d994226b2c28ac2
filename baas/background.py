"""Daemon threads that do one round of database work when woken, and at least every
``POLL_SECONDS`` (work another process caused wakes no thread here)."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection


class BackgroundLoop:
    POLL_SECONDS = 1.0
    THREAD_NAME = "baas-background"
    logger = logging.getLogger("baas")

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pace(self, woken: bool) -> None:
        """Called before each round, after the wait (``woken``: by ``wake`` rather than the poll)."""

    def round(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.pace(self._wake.wait(self.POLL_SECONDS))
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.round()
            except Exception:
                self.logger.exception("%s failed; retrying", self.THREAD_NAME)
                close_old_connections()
                time.sleep(0.5)
            finally:
                # A long-lived thread must not pin a pooled connection between rounds.
                connection.close()
        connection.close()
