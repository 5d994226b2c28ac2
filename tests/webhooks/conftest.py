"""Webhook fixtures: a receiver on loopback that records what it gets and answers as
told, and a real job worker (see tests/push/support.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import MODE
from tests.push import support


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """``/ok`` answers 200; ``/fail-N`` answers 500 N times, then 200; ``/down`` always
    500; ``/slow`` waits 1.5 s."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                    seen = sum(1 for hit in receiver.hits if hit.path == self.path)
                code = 200
                if self.path == "/down" or (self.path.startswith("/fail-") and seen <= int(self.path.rsplit("-", 1)[1])):
                    code = 500
                if self.path == "/slow":
                    time.sleep(1.5)
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def allow_private(settings: Any) -> Any:
    """Deliveries to the loopback receiver: the operator switch on, fast retries."""
    for name, value in support.WORKER_ENV.items():
        if name.startswith("BAAS_WEBHOOKS_"):
            setattr(settings, name, value == "1" if name.endswith("TARGETS") else float(value))
    settings.BAAS_WEBHOOKS_MAX_ATTEMPTS = int(support.WORKER_ENV["BAAS_WEBHOOKS_MAX_ATTEMPTS"])
    return settings


@pytest.fixture(scope="session", autouse=True)
def _stop_worker_at_the_end(django_db_setup: Any) -> Iterator[None]:
    """Set up after the test database, so torn down (the worker stopped) before it is dropped."""
    yield
    support.worker_stop()


@pytest.fixture
def webhook_worker(transactional_db: Any, allow_private: Any) -> Any:
    if MODE == "services":
        return support.worker_process()
    from baas.jobs import embedded_worker_start

    assert embedded_worker_start() is not None
    return None


@pytest.fixture
def wait_for(webhook_worker: Any) -> Callable[..., None]:
    def wait(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"{what} did not happen in {timeout}s\n{support.worker_log(webhook_worker)}")

    return wait
