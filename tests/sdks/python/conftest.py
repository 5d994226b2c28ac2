"""The Python SDK against live server processes. The SDK is imported from its source tree
(sdks/python/src), as a fresh clone has it; it needs only httpx and websockets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SDK_SOURCE = Path(__file__).resolve().parents[3] / "sdks" / "python" / "src"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

from baas_client import Client  # noqa: E402

P = "alpha-app"


@pytest.fixture
def start(asgi_server_factory: Any) -> Any:
    """``start(**env)``: a live server process. The port is picked before the server binds
    it, so on a busy machine another process can take it first: try another one."""

    def start(**env: str) -> Any:
        for attempt in range(3):
            try:
                return asgi_server_factory(**env)
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    return start


@pytest.fixture
def server(start: Any) -> Any:
    return start()


@pytest.fixture
def admin(server: Any, project: Any) -> Iterator[Client]:
    """A client with the project's secret key."""
    with Client(server.url, P, project.secret_key) as client:
        yield client


@pytest.fixture
def app(server: Any, project: Any) -> Iterator[Client]:
    """A client with the project's publishable key, as an app has it."""
    with Client(server.url, P, project.publishable_key) as client:
        yield client


@pytest.fixture
def make_client(project: Any) -> Iterator[Any]:
    """``make_client(server, key=None, **options)``: more clients, closed at the end."""
    made: list[Client] = []

    def make(server: Any, key: str | None = None, **options: Any) -> Client:
        client = Client(server.url, P, key or project.publishable_key, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
