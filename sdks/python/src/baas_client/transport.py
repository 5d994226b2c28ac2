"""HTTP for the sync and asyncio clients: one description of each call (``Call``), two
drivers that send it (httpx's ``Client`` and ``AsyncClient``).

The API surface (auth, documents, storage, ...) is written once against ``Call``; the
drivers add the key, the user's bearer token (refreshed before it expires, and once more
on a 401), and turn error answers into typed exceptions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from baas_client.errors import TransportError, Unauthenticated, error_from
from baas_client.session import AuthState, Session

USER_AGENT = "baas-client-python/0.1.0"


def json_body(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def segment(value: str) -> str:
    """One path segment, percent-encoded (ids and names never contain '/')."""
    return quote(value, safe="")


@dataclass
class Call:
    method: str
    path: str  # below /v1/projects/{p}/ unless it starts with '/'
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: Any = None  # bytes, or an iterator built for the driver (sync or async)
    use_auth: bool = True  # send the signed-in user's bearer token
    use_key: bool = True
    allow: frozenset[int] = frozenset()  # error statuses handed to ``parse`` instead of raised
    parse: Callable[[httpx.Response], Any] = json_body
    retryable: bool = True  # the body can be sent again (after a refresh on 401)
    timeout: float | None = None


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    headers = {k.lower(): v for k, v in response.headers.items()}
    raise error_from(response.status_code, body, headers=headers, request_id=response.headers.get("x-request-id"))


class _Base:
    is_async = False

    def __init__(self, url: str, project_id: str, api_key: str | None, state: AuthState, *,
                 refresh_margin: float) -> None:
        self.url = url.rstrip("/")
        self.project_id = project_id
        self.api_key = api_key
        self.state = state
        self.refresh_margin = refresh_margin
        self.project_url = f"{self.url}/v1/projects/{segment(project_id)}"

    def full_url(self, path: str) -> str:
        return self.url + path if path.startswith("/") else f"{self.project_url}/{path}"

    def needs_refresh(self, session: Session) -> bool:
        return session.expires_at - self.refresh_margin <= time.time()

    def request_args(self, call: Call, token: str | None) -> dict[str, Any]:
        headers = {"User-Agent": USER_AGENT, **call.headers}
        if call.use_key and self.api_key:
            headers["X-Api-Key"] = self.api_key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        args: dict[str, Any] = {"method": call.method, "url": self.full_url(call.path), "headers": headers}
        if call.params:
            args["params"] = {k: v for k, v in call.params.items() if v is not None}
        if call.content is not None:
            args["content"] = call.content
        elif call.json is not None:
            args["json"] = call.json
        if call.timeout is not None:
            args["timeout"] = call.timeout
        return args

    def refresh_call(self, session: Session) -> Call:
        return Call("POST", "auth/refresh", json={"refreshToken": session.refresh_token}, use_auth=False)

    def refreshed(self, response: httpx.Response) -> Session:
        if response.status_code == 401:
            # The refresh token is spent or revoked: the session is over.
            self.state.set(None)
        raise_for(response)
        session = Session.from_response(response.json())
        self.state.set(session)
        return session


class SyncTransport(_Base):
    def __init__(self, url: str, project_id: str, api_key: str | None, state: AuthState, *,
                 refresh_margin: float = 60, timeout: float = 30, http: httpx.Client | None = None) -> None:
        super().__init__(url, project_id, api_key, state, refresh_margin=refresh_margin)
        self.http = http or httpx.Client(timeout=timeout)
        self._refresh_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def access_token(self) -> str | None:
        """The signed-in user's access token, refreshed first when it is about to expire."""
        session = self.state.session
        if session is None:
            return None
        if self.needs_refresh(session):
            session = self.refresh(stale=session.access_token)
        return session.access_token if session else None

    def refresh(self, *, stale: str | None = None) -> Session | None:
        """Exchange the refresh token. Refresh tokens work once, so concurrent callers
        take turns and a caller whose token was already replaced uses the new one."""
        with self._refresh_lock:
            session = self.state.session
            if session is None:
                return None
            if stale is not None and session.access_token != stale:
                return session
            response = self._send_raw(self.refresh_call(session), None)
            return self.refreshed(response)

    def _send_raw(self, call: Call, token: str | None) -> httpx.Response:
        try:
            return self.http.request(**self.request_args(call, token))
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc

    def send(self, call: Call) -> httpx.Response:
        token = self.access_token() if call.use_auth else None
        response = self._send_raw(call, token)
        if response.status_code == 401 and token and call.retryable and self.state.session is not None:
            session = self.refresh(stale=token)
            if session is not None:
                response = self._send_raw(call, session.access_token)
        if response.status_code not in call.allow:
            raise_for(response)
        return response

    def run(self, call: Call) -> Any:
        return call.parse(self.send(call))

    def done(self, value: Any) -> Any:
        return value

    @contextmanager
    def stream(self, call: Call) -> Iterator[httpx.Response]:
        token = self.access_token() if call.use_auth else None
        try:
            with self.http.stream(**self.request_args(call, token)) as response:
                if response.status_code >= 400 and response.status_code not in call.allow:
                    response.read()
                    raise_for(response)
                yield response
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc


class AsyncTransport(_Base):
    is_async = True

    def __init__(self, url: str, project_id: str, api_key: str | None, state: AuthState, *,
                 refresh_margin: float = 60, timeout: float = 30, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(url, project_id, api_key, state, refresh_margin=refresh_margin)
        self.http = http or httpx.AsyncClient(timeout=timeout)
        self._refresh_lock: asyncio.Lock | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def access_token(self) -> str | None:
        session = self.state.session
        if session is None:
            return None
        if self.needs_refresh(session):
            session = await self.refresh(stale=session.access_token)
        return session.access_token if session else None

    async def refresh(self, *, stale: str | None = None) -> Session | None:
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            session = self.state.session
            if session is None:
                return None
            if stale is not None and session.access_token != stale:
                return session
            response = await self._send_raw(self.refresh_call(session), None)
            return self.refreshed(response)

    async def _send_raw(self, call: Call, token: str | None) -> httpx.Response:
        try:
            return await self.http.request(**self.request_args(call, token))
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc

    async def send(self, call: Call) -> httpx.Response:
        token = await self.access_token() if call.use_auth else None
        response = await self._send_raw(call, token)
        if response.status_code == 401 and token and call.retryable and self.state.session is not None:
            session = await self.refresh(stale=token)
            if session is not None:
                response = await self._send_raw(call, session.access_token)
        if response.status_code not in call.allow:
            raise_for(response)
        return response

    async def run(self, call: Call) -> Any:
        return call.parse(await self.send(call))

    async def done(self, value: Any) -> Any:
        return value

    @asynccontextmanager
    async def stream(self, call: Call) -> AsyncIterator[httpx.Response]:
        token = await self.access_token() if call.use_auth else None
        try:
            async with self.http.stream(**self.request_args(call, token)) as response:
                if response.status_code >= 400 and response.status_code not in call.allow:
                    await response.aread()
                    raise_for(response)
                yield response
        except httpx.HTTPError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc


Transport = SyncTransport | AsyncTransport
