"""``Client`` (blocking) and ``AsyncClient`` (asyncio): one project, one API key.

With a publishable key (``pk_…``) calls run as the signed-in end user (or anonymously)
under the project's security rules; with a secret key (``sk_…``) they bypass the rules and
``admin`` works. Both clients have the same surface; on ``AsyncClient`` every call is
awaited."""

from __future__ import annotations

from typing import Any

import httpx

from baas_client.admin import Admin
from baas_client.auth import Auth
from baas_client.documents import Batch, CollectionRef, DocumentRef
from baas_client.functions import Functions, Push
from baas_client.realtime import AsyncRealtime, Realtime, realtime_url
from baas_client.session import AuthState, MemoryTokenStore, TokenStore
from baas_client.storage import Bucket, Storage
from baas_client.transport import AsyncTransport, SyncTransport


class _Surface:
    _t: SyncTransport | AsyncTransport

    def _wire(self) -> None:
        self.auth = Auth(self._t)
        self.storage = Storage(self._t)
        self.functions = Functions(self._t)
        self.push = Push(self._t)
        self.admin = Admin(self._t)

    @property
    def project_id(self) -> str:
        return self._t.project_id

    def collection(self, name: str) -> CollectionRef:
        return CollectionRef(self._t, name)

    def doc(self, collection: str, doc_id: str) -> DocumentRef:
        return DocumentRef(self._t, collection, doc_id)

    def batch(self) -> Batch:
        return Batch(self._t)

    def bucket(self, name: str) -> Bucket:
        return Bucket(self._t, name)


class Client(_Surface):
    """The blocking client.

    ``refresh_margin``: refresh the access token this many seconds before it expires.
    ``realtime_options``: ``ping_interval``, ``pong_timeout``, ``backoff_base``,
    ``backoff_max``, ``open_timeout`` for the realtime connection.
    """

    _t: SyncTransport

    def __init__(self, url: str, project_id: str, api_key: str | None = None, *,
                 token_store: TokenStore | None = None, refresh_margin: float = 60, timeout: float = 30,
                 http_client: httpx.Client | None = None, realtime_options: dict[str, Any] | None = None) -> None:
        state = AuthState(token_store or MemoryTokenStore())
        self._t = SyncTransport(url, project_id, api_key, state, refresh_margin=refresh_margin, timeout=timeout,
                                http=http_client)
        self._wire()
        self.realtime = Realtime(realtime_url(self._t.url, project_id, api_key), self._t, **(realtime_options or {}))

    def close(self) -> None:
        self.realtime.close()
        self._t.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Surface):
    """The asyncio client: the same surface as ``Client``, every call awaited."""

    _t: AsyncTransport

    def __init__(self, url: str, project_id: str, api_key: str | None = None, *,
                 token_store: TokenStore | None = None, refresh_margin: float = 60, timeout: float = 30,
                 http_client: httpx.AsyncClient | None = None, realtime_options: dict[str, Any] | None = None) -> None:
        state = AuthState(token_store or MemoryTokenStore())
        self._t = AsyncTransport(url, project_id, api_key, state, refresh_margin=refresh_margin, timeout=timeout,
                                 http=http_client)
        self._wire()
        self.realtime = AsyncRealtime(realtime_url(self._t.url, project_id, api_key), self._t,
                                      **(realtime_options or {}))

    async def close(self) -> None:
        await self.realtime.close()
        await self._t.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
