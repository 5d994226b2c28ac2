"""ASGI entry point: HTTP through Django, WebSocket through Channels.

``BodyLimitGuard`` answers 413 from the Content-Length header before a byte of an
oversized body is read; Django's ASGI handler would otherwise spool it all first.
Storage uploads have their own, larger limits and are passed through.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Awaitable, Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baas.settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from baas.api.errors import PayloadTooLarge  # noqa: E402
from baas.api.renderers import json_dumps  # noqa: E402
from baas.jobs import embedded_worker_start  # noqa: E402
from projects.documents.changelog import sequencer_start as changelog_sequencer_start  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_UNLIMITED_PATHS = re.compile(r"^/v1/projects/[^/]+/buckets/[^/]+/objects(/|$)")
# The console's file upload (multipart, spooled to disk by Django, streamed on to storage):
# held to the storage limit, not to the small limit of JSON bodies.
_CONSOLE_UPLOAD_PATHS = re.compile(r"^/console/p/[^/]+/storage/[^/]+/$")


class BodyLimitGuard:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _UNLIMITED_PATHS.match(scope.get("path", "")):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        too_large = int(value) > limit
                    except ValueError:
                        too_large = False
                    if too_large and _CONSOLE_UPLOAD_PATHS.match(scope.get("path", "")):
                        limit = settings.BAAS_STORAGE_MAX_FILE_SIZE + 64 * 1024  # the file and its form fields
                        too_large = int(value) > limit
                    if too_large:
                        await self._reject(send, limit, scope)
                        return
                    break
        await self.app(scope, receive, send)

    @staticmethod
    async def _reject(send: Send, limit: int, scope: Scope) -> None:
        from baas.api.cors import response_headers

        error = PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
        body = json_dumps(error.as_dict())
        origin = next((value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"origin"), None)
        # A browser app reads this error only with the CORS headers the API sends elsewhere.
        cors = response_headers(origin) if scope.get("path", "").startswith("/v1/") else []
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    *cors,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


embedded_worker_start()
changelog_sequencer_start()
# Handler threads hand the GIL back to the event loop sooner (default 5 ms): the loop
# accepts, reads and answers for every request, so its waits are everyone's tail latency.
sys.setswitchinterval(float(os.environ.get("BAAS_GIL_SWITCH_INTERVAL", "0.001")))

from baas.api.edge import EdgeApp  # noqa: E402
from baas.routes import edge_router  # noqa: E402
from storage.http import StorageApp  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Object uploads and downloads stream through StorageApp (storage/http.py).
        "http": EdgeApp(edge_router, fallback=StorageApp(fallback=BodyLimitGuard(get_asgi_application()))),
        # No Origin check: apps on any site connect with a key in the URL (no cookies).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
