"""Realtime subscriptions over one WebSocket per client, kept alive across network drops.

The connection (``RealtimeConnection``, asyncio) reconnects with exponential backoff and
jitter, and subscribes again with ``resumeFrom`` set to the last ``seq`` each subscription
processed: the server replays every change after it from the change log, so nothing is
lost or doubled. When the log no longer reaches that far (``resume_expired``), or the
signed-in user changed (``aborted``), the subscription is made again with a snapshot and
the difference from the state it held is delivered as events (``event.resync`` is true).
It sends the user's new access token on the socket whenever it is refreshed, ahead of
expiry, so a long subscription keeps the user's rights.

``AsyncClient.realtime`` runs it on the caller's loop; ``Client.realtime`` runs it on a
loop in a background thread and calls callbacks there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from baas_client.documents import DocumentRef, Query
from baas_client.errors import BaasError, TransportError, Unauthenticated, error_from

logger = logging.getLogger("baas_client.realtime")

CLOSE_POLICY = 4401
RESYNC_CODES = {"resume_expired", "aborted"}


@dataclass(frozen=True)
class RealtimeEvent:
    """One change seen by a subscription: ``type`` is added, modified or removed."""

    type: str
    id: str
    data: dict[str, Any] | None
    version: int | None
    update_time: str | None
    seq: int
    resync: bool = False


@dataclass(frozen=True)
class RealtimeDocument:
    id: str
    data: dict[str, Any]
    version: int | None
    update_time: str | None


ChangeCallback = Callable[[RealtimeEvent], Any]
ErrorCallback = Callable[[BaasError], Any]


class Subscription:
    """A live subscription. ``docs`` is the current result set (id → document) when it was
    made with a snapshot; ``seq`` is the last change-log position it has processed."""

    def __init__(self, owner: Any, sub_id: str, collection: str, *, doc_id: str | None, where: Mapping[str, Any] | None,
                 snapshot: bool, on_change: ChangeCallback | None, on_error: ErrorCallback | None) -> None:
        self._owner = owner
        self.id = sub_id
        self.collection = collection
        self.doc_id = doc_id
        self.where = dict(where) if where is not None else None
        self.snapshot = snapshot
        self.on_change = on_change
        self.on_error = on_error
        self.docs: dict[str, RealtimeDocument] = {}
        self.seq: int | None = None
        self.active = True
        self.error: BaasError | None = None
        self.resyncs = 0
        self._resyncing = False
        self._generation = -1  # the connection it was last sent on
        self._ready: asyncio.Future[None] | None = None

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "subscribe", "id": self.id, "collection": self.collection}
        if self.doc_id is not None:
            message["docId"] = self.doc_id
        if self.where is not None:
            message["where"] = self.where
        if self.seq is not None and not self._resyncing:
            message["resumeFrom"] = self.seq
        elif self.snapshot or self._resyncing:
            message["snapshot"] = True
        return message

    def unsubscribe(self) -> Any:
        """Stop it (returns an awaitable on ``AsyncClient``)."""
        return self._owner.unsubscribe(self)

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.collection} seq={self.seq} docs={len(self.docs)}>"


def _document(doc: Mapping[str, Any]) -> RealtimeDocument:
    return RealtimeDocument(doc["id"], doc.get("data") or {}, doc.get("version"), doc.get("updateTime"))


class RealtimeConnection:
    """The asyncio connection manager; use it through ``AsyncRealtime`` or ``Realtime``."""

    def __init__(self, ws_url: str, *, token: Callable[[], Awaitable[str | None]],
                 expires_at: Callable[[], float | None], refresh_margin: float, ping_interval: float = 20,
                 pong_timeout: float = 10, backoff_base: float = 0.2, backoff_max: float = 10,
                 open_timeout: float = 10) -> None:
        self.ws_url = ws_url
        self._token = token
        self._expires_at = expires_at
        self.refresh_margin = refresh_margin
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.open_timeout = open_timeout
        self.subs: dict[str, Subscription] = {}
        self.connects = 0  # successful connections (1 + reconnects)
        self.auth_messages = 0  # auth messages sent (sign-in state or a refreshed token)
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ws: Any = None
        self._generation = 0
        self._ready = False
        self._sent_token: str | None = None
        self._token_changed: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._authenticated: asyncio.Event | None = None
        self._last_heard = 0.0
        self._fatal: BaasError | None = None
        self._last_error: BaasError | None = None

    # --- public, on the loop ----------------------------------------------------------------

    async def subscribe(self, sub: Subscription) -> Subscription:
        if self._fatal is not None:
            raise self._fatal
        self.loop = asyncio.get_running_loop()
        sub._ready = self.loop.create_future()
        self.subs[sub.id] = sub
        if self._runner is None or self._runner.done():
            self.closed = False
            self._runner = asyncio.ensure_future(self._run())
        elif self._ready:
            await self._send_subscribe(sub)
        await sub._ready
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        sub.active = False
        if self.subs.pop(sub.id, None) is not None and self._ready and sub._generation == self._generation:
            await self._send({"type": "unsubscribe", "id": sub.id})

    async def close(self) -> None:
        self.closed = True
        for sub in self.subs.values():
            sub.active = False
        self.subs.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass

    def token_changed(self) -> None:
        """Thread-safe: the session changed, send the new token (or none) on the socket."""
        loop, event = self.loop, self._token_changed
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def drop(self) -> None:
        """Close the socket as a network failure would (the connection comes back by itself)."""
        if self._ws is not None and self._ws.transport is not None:
            self._ws.transport.abort()

    # --- the connection loop ----------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        self._token_changed = asyncio.Event()
        while not self.closed:
            self._connected = False
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except _Fatal as fatal:
                self._fail_all(fatal.error)
                return
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, TransportError) as exc:
                logger.info("realtime connection lost: %r", exc)
            except Exception:  # a bug must not end reconnecting for good
                logger.exception("realtime connection failed")
            finally:
                self._ws, self._ready = None, False
            if self.closed:
                return
            if self._connected:
                attempt = 0  # it was up: the next drop starts the backoff again
            delay = min(self.backoff_max, self.backoff_base * (2 ** attempt)) * random.uniform(0.5, 1.0)
            attempt += 1
            await asyncio.sleep(delay)

    _connected = False

    async def _connect_once(self) -> None:
        try:
            websocket = await connect(self.ws_url, open_timeout=self.open_timeout, ping_interval=None,
                                      max_size=None, close_timeout=2)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403, 404):
                raise _Fatal(error_from(status, _json(exc.response.body))) from exc
            raise
        async with websocket as ws:
            self._ws = ws
            self._generation += 1
            self._authenticated = asyncio.Event()
            self._last_heard = time.monotonic()
            reader = asyncio.ensure_future(self._reader(ws))
            try:
                token = await self._token()
                await self._send_auth(token)
                waiter = asyncio.ensure_future(self._authenticated.wait())
                done, _ = await asyncio.wait({reader, waiter}, timeout=self.open_timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if waiter not in done:
                    waiter.cancel()
                    if reader in done:
                        reader.result()  # raises why the socket ended
                    raise TimeoutError("no 'authenticated' answer")
                self.connects += 1
                self._connected = True
                self._ready = True
                for sub in list(self.subs.values()):
                    if sub._generation != self._generation:
                        await self._send_subscribe(sub)
                helpers = [asyncio.ensure_future(self._pinger(ws)), asyncio.ensure_future(self._token_watcher())]
                try:
                    done, _ = await asyncio.wait({reader, *helpers}, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                finally:
                    for task in helpers:
                        task.cancel()
            except BaseException:
                # A dead peer would hold the closing handshake for close_timeout: drop it now.
                if ws.transport is not None:
                    ws.transport.abort()
                raise
            finally:
                reader.cancel()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass

    async def _reader(self, ws: Any) -> None:
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == CLOSE_POLICY:
                    # The key was refused: reconnecting cannot help.
                    message = self._last_error.message if self._last_error else "The API key was refused."
                    raise _Fatal(Unauthenticated(message, code="unauthenticated")) from exc
                raise
            self._last_heard = time.monotonic()
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            self._handle(message)

    async def _pinger(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(min(self.ping_interval, 1.0))
            now = time.monotonic()
            if now - self._last_heard > self.ping_interval + self.pong_timeout:
                raise TimeoutError("no message from the server in time")
            if now - self._last_pinged >= self.ping_interval:
                self._last_pinged = now
                await self._send({"type": "ping"})

    _last_pinged = 0.0

    async def _token_watcher(self) -> None:
        """Refresh the token ahead of its expiry and send each new one on the socket."""
        assert self._token_changed is not None
        while True:
            expires_at = self._expires_at()
            timeout = None if expires_at is None else max(0.0, expires_at - self.refresh_margin - time.time() + 0.05)
            try:
                await asyncio.wait_for(self._token_changed.wait(), timeout)
            except TimeoutError:
                pass
            self._token_changed.clear()
            token = await self._token()
            if token != self._sent_token:
                # Sent late (a suspended process), the server has held changes back
                # since the old token expired and replays them on this message.
                await self._send_auth(token)

    # --- messages -----------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is not None:
            await self._ws.send(json.dumps(message))

    async def _send_auth(self, token: str | None) -> None:
        self._sent_token = token
        self.auth_messages += 1
        await self._send({"type": "auth", "token": token})

    async def _send_subscribe(self, sub: Subscription) -> None:
        sub._generation = self._generation
        await self._send(sub.message())

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "change":
            sub = self.subs.get(message.get("sub", ""))
            if sub is not None and sub.active:
                self._apply(sub, message)
        elif kind == "subscribed":
            sub = self.subs.get(message.get("id", ""))
            if sub is not None:
                self._subscribed(sub, message)
        elif kind == "authenticated":
            assert self._authenticated is not None
            self._authenticated.set()
        elif kind == "error":
            self._error(message)

    def _apply(self, sub: Subscription, message: dict[str, Any]) -> None:
        seq = message["seq"]
        if sub.seq is not None and seq <= sub.seq:
            return  # already processed (never expected: resume replays only what follows)
        doc = message["doc"]
        change = message["change"]
        if change == "removed":
            sub.docs.pop(doc["id"], None)
            event = RealtimeEvent("removed", doc["id"], None, doc.get("version"), None, seq)
        else:
            document = _document(doc)
            sub.docs[document.id] = document
            event = RealtimeEvent(change, document.id, document.data, document.version, document.update_time, seq)
        sub.seq = seq
        _call(sub.on_change, event)

    def _subscribed(self, sub: Subscription, message: dict[str, Any]) -> None:
        seq: int = message["seq"]
        if sub._resyncing:
            fresh = {d["id"]: _document(d) for d in message.get("snapshot") or []}
            sub._resyncing = False
            sub.resyncs += 1
            for doc_id, old in list(sub.docs.items()):
                if doc_id not in fresh:
                    del sub.docs[doc_id]
                    _call(sub.on_change, RealtimeEvent("removed", doc_id, None, old.version, None, seq, True))
            for doc_id, new in fresh.items():
                old_doc = sub.docs.get(doc_id)
                if old_doc is None or old_doc.version != new.version or old_doc.data != new.data:
                    sub.docs[doc_id] = new
                    change = "added" if old_doc is None else "modified"
                    _call(sub.on_change, RealtimeEvent(change, doc_id, new.data, new.version, new.update_time, seq, True))
        elif "snapshot" in message:
            sub.docs = {d["id"]: _document(d) for d in message["snapshot"]}
        sub.seq = seq
        if sub._ready is not None and not sub._ready.done():
            sub._ready.set_result(None)

    def _error(self, message: dict[str, Any]) -> None:
        error = error_from(None, {"error": message})
        sub = self.subs.get(message.get("id") or "") if isinstance(message.get("id"), str) else None
        if sub is None:
            self._last_error = error
            logger.warning("realtime error: %s", error)
            return
        resumable = sub.seq is not None and error.code == "invalid_argument" and "head" in error.details
        if error.code in RESYNC_CODES or resumable:
            # Start over with a snapshot; the difference is delivered as events.
            sub._resyncing = True
            if self._ws is not None and self._ready:
                asyncio.ensure_future(self._send_subscribe(sub))
            return
        sub.active = False
        sub.error = error
        self.subs.pop(sub.id, None)
        if sub._ready is not None and not sub._ready.done():
            sub._ready.set_exception(error)
        else:
            _call(sub.on_error, error)

    def _fail_all(self, error: BaasError) -> None:
        self._fatal = error
        for sub in list(self.subs.values()):
            sub.active = False
            sub.error = error
            if sub._ready is not None and not sub._ready.done():
                sub._ready.set_exception(error)
            else:
                _call(sub.on_error, error)
        self.subs.clear()


class _Fatal(Exception):
    def __init__(self, error: BaasError) -> None:
        super().__init__(str(error))
        self.error = error


def _json(body: bytes | bytearray | None) -> Any:
    try:
        return json.loads(body or b"")
    except ValueError:
        return None


def _call(callback: Callable[[Any], Any] | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:
        logger.exception("realtime callback failed")


def _target(target: str | Query | DocumentRef, where: Mapping[str, Any] | None, doc_id: str | None
            ) -> tuple[str, str | None, Mapping[str, Any] | None]:
    if isinstance(target, DocumentRef):
        return target.collection, target.id, where
    if isinstance(target, Query):
        return target.collection, doc_id, where if where is not None else target.filter
    return target, doc_id, where


class _RealtimeBase:
    def __init__(self, ws_url: str, **options: Any) -> None:
        self.ws_url = ws_url
        self.options = options
        self._ids = count(1)
        self.connection: RealtimeConnection | None = None

    def _subscription(self, target: str | Query | DocumentRef, *, doc_id: str | None, where: Mapping[str, Any] | None,
                      snapshot: bool, on_change: ChangeCallback | None, on_error: ErrorCallback | None,
                      sub_id: str | None) -> Subscription:
        collection, doc_id, where = _target(target, where, doc_id)
        return Subscription(self, sub_id or f"s{next(self._ids)}", collection, doc_id=doc_id, where=where,
                            snapshot=snapshot, on_change=on_change, on_error=on_error)


class AsyncRealtime(_RealtimeBase):
    """Realtime for ``AsyncClient``: runs on the caller's event loop."""

    def __init__(self, ws_url: str, transport: Any, **options: Any) -> None:
        super().__init__(ws_url, **options)
        self._t = transport
        self._remove_listener: Callable[[], None] | None = None

    def _connection(self) -> RealtimeConnection:
        if self.connection is None:
            state = self._t.state
            self.connection = RealtimeConnection(
                self.ws_url, token=self._t.access_token,
                expires_at=lambda: state.session.expires_at if state.session else None,
                refresh_margin=self._t.refresh_margin, **self.options,
            )
            connection = self.connection
            self._remove_listener = state.listen(lambda session: connection.token_changed())
        return self.connection

    async def subscribe(self, target: str | Query | DocumentRef, *, doc_id: str | None = None,
                        where: Mapping[str, Any] | None = None, snapshot: bool = True,
                        on_change: ChangeCallback | None = None, on_error: ErrorCallback | None = None,
                        id: str | None = None) -> Subscription:
        """Follow a collection, a query (a ``Query`` or ``where``) or one document
        (a ``DocumentRef`` or ``doc_id``). Returns once the server confirmed it."""
        sub = self._subscription(target, doc_id=doc_id, where=where, snapshot=snapshot, on_change=on_change,
                                 on_error=on_error, sub_id=id)
        return await self._connection().subscribe(sub)

    async def unsubscribe(self, sub: Subscription) -> None:
        if self.connection is not None:
            await self.connection.unsubscribe(sub)

    async def close(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


class Realtime(_RealtimeBase):
    """Realtime for ``Client``: the connection runs on an event loop in a daemon thread;
    callbacks are called on that thread."""

    def __init__(self, ws_url: str, transport: Any, **options: Any) -> None:
        super().__init__(ws_url, **options)
        self._t = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._remove_listener: Callable[[], None] | None = None

    def _start(self) -> tuple[asyncio.AbstractEventLoop, RealtimeConnection]:
        with self._lock:
            if self._loop is None or self.connection is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="baas-realtime", daemon=True)
                thread.start()
                state, transport = self._t.state, self._t

                async def token() -> str | None:
                    return await asyncio.get_running_loop().run_in_executor(None, transport.access_token)

                connection = RealtimeConnection(
                    self.ws_url, token=token, expires_at=lambda: state.session.expires_at if state.session else None,
                    refresh_margin=transport.refresh_margin, **self.options,
                )
                connection.loop = loop
                self._loop, self._thread, self.connection = loop, thread, connection
                self._remove_listener = state.listen(lambda session: connection.token_changed())
            return self._loop, self.connection

    def _wait(self, coroutine: Awaitable[Any], timeout: float | None) -> Any:
        if threading.current_thread() is self._thread:
            # A callback waiting for the loop it runs on would wait forever.
            coroutine.close()  # type: ignore[attr-defined]
            raise RuntimeError("Realtime calls cannot be made from a realtime callback; use another thread.")
        loop, _ = self._start()
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def subscribe(self, target: str | Query | DocumentRef, *, doc_id: str | None = None,
                  where: Mapping[str, Any] | None = None, snapshot: bool = True,
                  on_change: ChangeCallback | None = None, on_error: ErrorCallback | None = None,
                  id: str | None = None, timeout: float = 30) -> Subscription:
        """Follow a collection, a query or one document; returns once the server confirmed
        it (its snapshot, if asked for, is in ``docs``)."""
        sub = self._subscription(target, doc_id=doc_id, where=where, snapshot=snapshot, on_change=on_change,
                                 on_error=on_error, sub_id=id)
        _, connection = self._start()
        try:
            return self._wait(connection.subscribe(sub), timeout)  # type: ignore[no-any-return]
        except TimeoutError:
            self._wait(connection.unsubscribe(sub), 10)  # no half-made subscription stays behind
            raise

    def unsubscribe(self, sub: Subscription, timeout: float = 10) -> None:
        if self.connection is not None:
            self._wait(self.connection.unsubscribe(sub), timeout)

    def close(self, timeout: float = 10) -> None:
        with self._lock:
            loop, thread, connection = self._loop, self._thread, self.connection
            self._loop = self._thread = self.connection = None
        if self._remove_listener is not None:
            self._remove_listener()
        if loop is None or connection is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(connection.close(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout)
            loop.close()


def realtime_url(base_url: str, project_id: str, api_key: str | None) -> str:
    ws = "wss://" + base_url[len("https://"):] if base_url.startswith("https://") else "ws://" + base_url.split("://", 1)[-1]
    url = f"{ws.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/realtime"
    return url + (f"?apiKey={quote(api_key, safe='')}" if api_key else "")
