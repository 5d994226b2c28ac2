"""Telling every process's hub that a project's change log grew.

Connected to ``changes_sequenced`` in every process that sequences (servers and Celery
workers). The local hub, if any, is hinted directly; with Redis, the hint is also sent to
the channel layer group every hub listens on. Sends run on one long-lived event loop
thread per process, so the layer's Redis connections are reused, and the sequencer
never waits on them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger("baas.realtime")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="baas-rt-publish", daemon=True).start()
            _loop = loop
        return _loop


async def _send(heads: dict[str, int]) -> None:
    from channels.layers import get_channel_layer

    from realtime.hub import HEADS_GROUP

    try:
        await get_channel_layer().group_send(HEADS_GROUP, {"type": "realtime.heads", "heads": heads})
    except Exception:
        logger.exception("publishing change-log heads failed (hubs will poll)")


def heads_published(
    sender: Any = None, *, assigned: dict[str, tuple[int, int]], entries: dict[str, list[Any]] | None = None, **_: Any
) -> None:
    heads = {project_id: last for project_id, (_, last) in assigned.items()}
    from realtime.hub import current_hub

    hub = current_hub()
    if hub is not None:
        if entries is not None:
            hub.deliver_threadsafe(entries)  # numbered here: no need to read them back
        else:
            hub.hint_threadsafe(heads)
    if settings.REDIS_URL:
        asyncio.run_coroutine_threadsafe(_send(heads), _publisher_loop())
