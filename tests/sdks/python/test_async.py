"""The asyncio client: the same surface, awaited, against a live server."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import pytest
from baas_client import AsyncClient, NotFound, PermissionDenied, RealtimeEvent, increment

from tests.sdks.python.proxy import CuttableProxy

P = "alpha-app"
PASSWORD = "correct-Horse-battery-9"


def test_documents_queries_and_batches(server: Any, project: Any) -> None:
    async def main() -> None:
        async with AsyncClient(server.url, P, project.secret_key) as client:
            ref = client.collection("a").doc("x")
            assert await ref.get() is None
            assert (await ref.set({"n": 1})).version == 1
            assert (await ref.update(transforms=[increment("n", 2)])).data == {"n": 3}
            await client.batch().set("a", "y", {"n": 5}).set("a", "z", {"n": 7}).commit()
            query = client.collection("a").where("n", ">=", 3).order_by("n").limit(2)
            assert [d.id async for d in query.stream()] == ["x", "y", "z"]
            assert [len(p.documents) async for p in query.pages()] == [2, 1]
            assert await query.count() == 3
            await ref.delete()
            with pytest.raises(NotFound):
                await ref.update({"n": 1})

    asyncio.run(main())


def test_auth_refresh_is_shared_by_concurrent_tasks(start: Any, project: Any) -> None:
    server = start(BAAS_AUTH_ACCESS_TOKEN_LIFETIME="2")

    async def main() -> None:
        async with AsyncClient(server.url, P, project.publishable_key, refresh_margin=1) as app:
            user = await app.auth.sign_up("async@example.com", PASSWORD)
            old = app.auth.session.access_token
            await asyncio.sleep(1.2)
            tokens = await asyncio.gather(*(app.auth.access_token() for _ in range(8)))
            assert len(set(tokens)) == 1 and tokens[0] != old
            assert (await app.auth.get_user())["uid"] == user["uid"]
            await app.auth.sign_out()
            assert app.auth.session is None

    asyncio.run(main())


def test_storage_upload_with_progress_and_streaming_download(server: Any, project: Any) -> None:
    async def main() -> None:
        async with AsyncClient(server.url, P, project.secret_key) as client:
            await client.admin.create_bucket("media", rules={"read": "true"})
            bucket = client.bucket("media")
            body = b"0123456789" * 30_000
            seen: list[int] = []
            stored = await bucket.upload("clip.bin", body, on_progress=lambda sent, total: seen.append(sent),
                                         chunk_size=100_000)
            assert stored.sha256 == hashlib.sha256(body).hexdigest() and seen == [0, 100_000, 200_000, 300_000]
            async with bucket.stream("clip.bin", chunk_size=50_000) as chunks:
                assert b"".join([chunk async for chunk in chunks]) == body
            assert await bucket.download("clip.bin", range=(5, 9)) == b"56789"
            assert [o.path for o in (await bucket.list()).objects] == ["clip.bin"]

    asyncio.run(main())


def test_realtime_resumes_after_a_drop(server: Any, project: Any) -> None:
    proxy = CuttableProxy(server.url)

    async def main() -> None:
        async with AsyncClient(server.url, P, project.secret_key) as admin, \
                AsyncClient(proxy.url, P, project.publishable_key,
                            realtime_options={"backoff_base": 0.05, "backoff_max": 0.5}) as app:
            await admin.admin.set_collection_config("live", rules={"read": "auth != null"})
            with pytest.raises(PermissionDenied):
                await app.collection("live").doc("nope").get()
            await app.auth.sign_in_anonymously()
            events: list[RealtimeEvent] = []
            sub = await app.realtime.subscribe(app.collection("live"), on_change=events.append)
            for i in range(10):
                await admin.collection("live").doc(f"d{i}").set({"i": i})
                if i == 4:
                    proxy.cut()
            deadline = time.monotonic() + 20
            while len(events) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert [(e.type, e.id, e.data) for e in events] == [("added", f"d{i}", {"i": i}) for i in range(10)]
            assert app.realtime.connection.connects == 2 and len(sub.docs) == 10
            await sub.unsubscribe()

    try:
        asyncio.run(main())
    finally:
        proxy.close()
