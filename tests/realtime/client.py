"""A small WebSocket test client over the real protocol (``websockets``' sync client)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from websockets.sync.client import connect


class Realtime:
    def __init__(self, base_url: str, project_id: str, api_key: str | None, *, receive_buffer: int | None = None) -> None:
        ws_url = base_url.replace("http://", "ws://") + f"/v1/projects/{project_id}/realtime"
        if api_key is not None:
            ws_url += f"?apiKey={api_key}"
        raw = socket.socket()
        if receive_buffer is not None:  # a small TCP window makes a slow reader show at once
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        parts = urlsplit(base_url)
        raw.connect((parts.hostname, parts.port))
        self._context = connect(ws_url, sock=raw, open_timeout=10, max_size=None, ping_interval=None)
        self.socket = self._context.__enter__()
        self.received: list[dict[str, Any]] = []

    def send(self, message: Any) -> None:
        self.socket.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        message = json.loads(self.socket.recv(timeout=timeout))
        self.received.append(message)
        return message  # type: ignore[no-any-return]

    def expect(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv(max(0.01, deadline - time.monotonic()))
            if message.get("type") == kind:
                return message
            if message.get("type") == "error" and kind != "error":
                raise AssertionError(f"expected {kind}, got {message}")

    def auth(self, token: str | None = None) -> dict[str, Any]:
        self.send({"type": "auth", "token": token})
        return self.expect("authenticated")

    def subscribe(self, sub_id: str, collection: str, **options: Any) -> dict[str, Any]:
        self.send({"type": "subscribe", "id": sub_id, "collection": collection, **options})
        return self.expect("subscribed")

    def changes(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """The next ``count`` change events (anything else received is an error)."""
        events = []
        deadline = time.monotonic() + timeout
        while len(events) < count:
            message = self.recv(max(0.01, deadline - time.monotonic()))
            assert message["type"] == "change", message
            events.append(message)
        return events

    def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (to show nothing more does)."""
        extra = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                extra.append(self.recv(left))
            except TimeoutError:
                break
        return extra

    def close(self) -> None:
        self._context.__exit__(None, None, None)


class Http:
    def __init__(self, base_url: str, project_id: str, key: str, token: str | None = None) -> None:
        self.base = f"{base_url}/v1/projects/{project_id}"
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = key
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(self.base + path, json=body, timeout=30)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.base + path, json=body, timeout=30)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, timeout=30)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=30)
