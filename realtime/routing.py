"""WebSocket routes."""

from __future__ import annotations

from typing import Any

from django.urls import path

from realtime.connection import RealtimeEndpoint

websocket_urlpatterns: list[Any] = [path("v1/projects/<str:project_id>/realtime", RealtimeEndpoint())]
