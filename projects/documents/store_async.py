"""The one write awaited on the event loop: a plain create on PostgreSQL.

A create is one statement that mostly waits for its commit's WAL flush. Awaited on the
loop, many are in flight with no thread each (PostgreSQL flushes their commits
together) and they are served in arrival order; in a thread pool they competed for the
GIL, which spread their latency (p99 about three times p50).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from django.conf import settings
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from projects.documents.store import INSERT_LOGGED_SQL, insert_logged_params

_pools: dict[int, AsyncConnectionPool] = {}


def _conninfo() -> str:
    database: dict[str, Any] = settings.DATABASES["default"]
    return make_conninfo(
        dbname=database["NAME"],
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or None,
        port=str(database["PORT"]) if database.get("PORT") else None,
    )


async def _pool() -> AsyncConnectionPool:
    key = id(asyncio.get_running_loop())
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = AsyncConnectionPool(
            _conninfo(),
            min_size=1,
            max_size=settings.BAAS_EDGE_WRITE_THREADS,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 5},
        )
        await pool.open()
    return pool


async def document_insert_logged(*, project_id: str, collection: str, doc_id: str, data_json: bytes, now: datetime) -> bool:
    """Insert version 1 and its change-log entry in one statement; False if the id is taken."""
    pool = await _pool()
    async with pool.connection() as conn:
        cursor = await conn.execute(INSERT_LOGGED_SQL, insert_logged_params(project_id, collection, doc_id, data_json, now))
        return await cursor.fetchone() is not None
