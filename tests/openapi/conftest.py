"""A live server and the OpenAPI document it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer

P = "alpha-app"


@pytest.fixture
def server(asgi_server_factory: Any, tmp_path: Path) -> LiveServer:
    """The port is picked before the server binds it: on a busy machine, try another.
    Webhook targets on loopback are allowed (no outside host resolves here)."""
    for attempt in range(3):
        try:
            return asgi_server_factory(
                BAAS_STORAGE_LOCAL_DIR=str(tmp_path / "objects"), BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS="1"
            )
        except RuntimeError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def document(server: LiveServer) -> dict[str, Any]:
    response = requests.get(server.url + "/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/")
    result: dict[str, Any] = response.json()
    return result
