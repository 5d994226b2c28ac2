"""WebSocket routes (the realtime consumer is added with the realtime capability)."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
