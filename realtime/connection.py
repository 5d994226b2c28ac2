"""The realtime WebSocket: ``/v1/projects/{p}/realtime?apiKey=pk_…``.

A plain ASGI app (no Channels consumer per socket: that would give every connection its
own channel-layer inbox, and 5,000 idle sockets would cost 5,000 Redis listeners). The
process's hub (hub.py) feeds it change-log entries; it turns them into events per
subscription and queues them for one writer task. The queue is bounded in bytes: a
client that cannot keep up is told where to resume from and disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

import orjson
from django.conf import settings

from baas.api.authentication import authenticate_project_request
from baas.api.context import RequestContext
from baas.api.errors import (
    Aborted,
    AlreadyExists,
    ApplicationError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from projects.documents import changelog, selectors
from projects.documents.access import compiled_rule
from projects.documents.query import Query, decode_cursor, parse_query
from projects.usage import usage_gauge_add
from realtime.frames import DirectSocket, Prepared
from realtime.hub import Feed, Hub, hub_for_loop
from realtime.subscriptions import EntryView, SnapshotFold, Subscription, auth_key, event_for, parse_subscribe

logger = logging.getLogger("baas.realtime")

CLOSE_POLICY = 4401  # unauthenticated
CLOSE_SLOW = 4408  # slow consumer: resume with the positions sent
CLOSE_IDLE = 4000
WRITE_BATCH_BYTES = 256 * 1024  # one transport write for a backlog, at most about this much


class _Continue:
    """Awaitable that finishes a coroutine started by hand which suspended on ``first``."""

    def __init__(self, coroutine: Any, first: Any) -> None:
        self.coroutine, self.first = coroutine, first

    def __await__(self) -> Any:
        value = self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                self.coroutine.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - passed on to the coroutine, as a task would
                try:
                    value = self.coroutine.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self.coroutine.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(coroutine: Any, first: Any) -> Any:
    return await _Continue(coroutine, first)


class ResumeExpired(ApplicationError):
    code, status, default_message = "resume_expired", 410, "The change log no longer holds that position."


class RealtimeEndpoint:
    """ASGI app for one route; each socket gets a Connection."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await Connection(scope, receive, send).run()


class Connection:
    def __init__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.project_id: str = scope["url_route"]["kwargs"]["project_id"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        self.api_key = (query.get("apiKey") or [None])[0]
        self.receive, self.send_raw = receive, send
        self.ctx: RequestContext | None = None
        self.auth: dict[str, Any] | None = None
        self.auth_key = ""
        self.authenticated = False
        # When the user's token runs out (wall clock), deliveries pause rather than go on
        # as if the subscriber were signed out; a new auth message resumes from the log.
        self.auth_expires = math.inf
        self.expired = False
        self.subs: dict[str, Subscription] = {}
        self.queue: deque[tuple[Prepared, Subscription | None, int]] = deque()
        self.queued_bytes = 0
        self.buffer_limit = settings.BAAS_REALTIME_SEND_BUFFER_BYTES  # read once: push is hot
        self.wakeup = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.closing = False
        self.sending = False  # an ASGI send is still in flight: later messages wait behind it
        self.direct: DirectSocket | None = None  # prepared frames go straight to the transport
        self.cork: list[bytes] = []  # frames gathered during one slice of the hub's fan-out
        self.close_code = 1000
        self.connected_at = self.last_heard = time.monotonic()
        self.hub: Hub | None = None
        self.feed: Feed | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        first = await self.receive()
        if first.get("type") != "websocket.connect":
            return
        await self.send_raw({"type": "websocket.accept"})
        self.direct = DirectSocket.behind(self.send_raw)
        self.hub = hub_for_loop()
        writer = asyncio.ensure_future(self._writer())
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            try:
                self.ctx = await self.hub.db(
                    authenticate_project_request,
                    project_id=self.project_id,
                    api_key=self.api_key,
                    authorization=None,
                    safe_method=True,
                    origin="ws",
                )
            except ApplicationError as error:
                self._close_with(error, CLOSE_POLICY)
            else:
                self.authenticated = self.ctx.is_privileged  # secret keys need no user token
                usage_gauge_add(self.project_id, "realtime_connections", 1)
                self.feed = await self.hub.attach(self)
            while True:
                message = await self.receive()
                kind = message.get("type")
                if kind == "websocket.disconnect":
                    break
                if kind == "websocket.receive" and not self.closing:
                    self.last_heard = time.monotonic()
                    await self._handle(message.get("text") if message.get("text") is not None else message.get("bytes"))
        finally:
            self.closing = True
            if self.ctx is not None:
                usage_gauge_add(self.project_id, "realtime_connections", -1)
            for sub in self.subs.values():
                sub.active = False
            if self.feed is not None:
                self.hub.detach(self)
            watchdog.cancel()
            writer.cancel()

    async def _watchdog(self) -> None:
        while not self.closing:
            await asyncio.sleep(1)
            now = time.monotonic()
            if not self.authenticated and now - self.connected_at > settings.BAAS_REALTIME_AUTH_TIMEOUT:
                self._close_with(Unauthenticated("No auth message in time."), CLOSE_POLICY)
            elif self._auth_lapsed():
                pass  # told once; deliveries wait for a fresh token
            elif now - self.last_heard > settings.BAAS_REALTIME_IDLE_TIMEOUT:
                self._close_with(FailedPrecondition("Idle: send a ping at least every 30 seconds."), CLOSE_IDLE)

    async def _writer(self) -> None:
        try:
            while True:
                while not self.queue or self.sending:
                    if self.closing and not self.sending:
                        await self.send_raw({"type": "websocket.close", "code": self.close_code})
                        return
                    self.wakeup.clear()
                    await self.wakeup.wait()
                direct = self.direct
                if direct is not None and direct.ready():
                    # Everything queued in one write: a backlog costs one syscall, not one per event.
                    frames, budget = [], WRITE_BATCH_BYTES
                    while self.queue and budget > 0:
                        frame = self._pop().frame
                        frames.append(frame)
                        budget -= len(frame)
                    direct.transport.write(b"".join(frames) if len(frames) > 1 else frames[0])
                    continue
                prepared = self._pop()
                self.sending = True  # a push meanwhile must queue, not overtake this message
                try:
                    await self.send_raw({"type": "websocket.send", "text": prepared.text})
                finally:
                    self.sending = False
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away under us
            self.closing = True

    def _pop(self) -> Prepared:
        """The next queued message, counted as handed to the transport."""
        prepared, sub, seq = self.queue.popleft()
        self.queued_bytes -= len(prepared.text)
        if self.queued_bytes <= self.buffer_limit // 4:
            self.drained.set()
        if sub is not None:
            sub.unsent -= 1
            sub.sent_position = max(sub.sent_position, seq)
        return prepared

    # --- outgoing -------------------------------------------------------------------------------

    def push(self, message: dict[str, Any] | str | Prepared, sub: Subscription | None = None, seq: int = 0) -> None:
        if self.closing:
            return
        if not isinstance(message, Prepared):
            message = Prepared(message if isinstance(message, str) else orjson.dumps(message).decode())
        if not self.queue and not self.sending:
            self._send_now(message, sub, seq)
            return
        size = len(message.text)
        if self.queued_bytes + size > self.buffer_limit and self.queue:
            self._overflow()
            return
        self.queue.append((message, sub, seq))
        self.queued_bytes += size
        if self.queued_bytes > self.buffer_limit // 2:
            self.drained.clear()
        if sub is not None:
            sub.unsent += 1
        self.wakeup.set()

    def _send_now(self, message: Prepared, sub: Subscription | None, seq: int) -> None:
        """Hand a message to the server at once when nothing is queued before it.

        Under uvicorn the prepared frame is written to the transport (see frames.py).
        Otherwise the ASGI send is started by hand: while the socket is writable it
        completes without suspending, which spares a task switch per message per
        subscriber. If it does suspend (the client reads slowly), it is finished in a
        task and later messages queue behind it.
        """
        if sub is not None:
            sub.sent_position = max(sub.sent_position, seq)
        direct = self.direct
        if direct is not None:
            if self.cork:  # ready when the first was gathered, and no await since
                self.cork.append(message.frame)
                return
            hub = self.hub
            if hub is not None and hub.corking and direct.ready():
                self.cork.append(message.frame)
                hub.corked.append(self)
                return
            if direct.write(message.frame):
                return
        coroutine = self.send_raw({"type": "websocket.send", "text": message.text})
        try:
            suspended = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            self.closing = True  # the socket went away
            self.wakeup.set()
            return
        self.sending = True
        task = asyncio.ensure_future(_finish(coroutine, suspended))
        task.add_done_callback(self._sent)

    def flush(self) -> None:
        """Write the gathered frames (the hub calls this before it next awaits)."""
        frames, self.cork = self.cork, []
        if frames and self.direct is not None and not self.direct.write(b"".join(frames) if len(frames) > 1 else frames[0]):
            self.closing = True  # lost between gathering and writing: resume covers it
            self.wakeup.set()

    def _sent(self, task: asyncio.Future[Any]) -> None:
        self.sending = False
        if task.cancelled() or task.exception() is not None:
            self.closing = True
        self.wakeup.set()

    def _overflow(self) -> None:
        """A slow consumer: drop what is queued, say where each subscription resumes, close."""
        positions = {sub.sub_id: sub.sent_position for sub in self.subs.values()}
        self.queue.clear()
        self.queued_bytes = 0
        for sub in self.subs.values():
            sub.unsent, sub.active = 0, False
        error = ResourceExhausted(
            "Slow consumer: events arrived faster than this connection read them. Reconnect with resumeFrom.",
        )
        self._close_with(error, CLOSE_SLOW, extra={"resumeFrom": positions})

    def _close_with(self, error: ApplicationError, code: int, extra: dict[str, Any] | None = None) -> None:
        if self.closing:
            return
        self.push({"type": "error", "code": error.code, "message": error.message, **(extra or {})})
        self.closing, self.close_code = True, code
        self.wakeup.set()

    def _error(self, error: ApplicationError, sub_id: Any = None) -> None:
        message: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
        if isinstance(sub_id, str):
            message["id"] = sub_id
        if error.details:
            message["details"] = error.details
        self.push(message)

    # --- incoming -------------------------------------------------------------------------------

    async def _handle(self, raw: str | bytes | None) -> None:
        sub_id = None
        try:
            if raw is None or len(raw) > settings.BAAS_REALTIME_MAX_MESSAGE_BYTES:
                raise PayloadTooLarge(f"Messages are at most {settings.BAAS_REALTIME_MAX_MESSAGE_BYTES} bytes.")
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidArgument(f"Malformed JSON: {exc}") from None
            if not isinstance(message, dict):
                raise InvalidArgument("A message is a JSON object with a 'type'.")
            sub_id = message.get("id")
            kind = message.get("type")
            if kind == "ping":
                self.push({"type": "pong"})
            elif kind == "auth":
                await self._authenticate(message.get("token"))
            elif kind in ("subscribe", "unsubscribe"):
                if self.ctx is None or not self.authenticated:
                    raise Unauthenticated("Send {\"type\": \"auth\", \"token\": …} first (token null for anonymous).")
                if kind == "subscribe":
                    await self._subscribe(message)
                else:
                    self._unsubscribe(sub_id)
            else:
                raise InvalidArgument("Unknown message type; expected auth, subscribe, unsubscribe or ping.")
        except ApplicationError as error:
            self._error(error, sub_id)
        except Exception:
            logger.exception("realtime message failed")
            self._error(ApplicationError("Internal error."), sub_id)

    async def _authenticate(self, token: Any) -> None:
        if self.ctx is None:
            raise Unauthenticated("Invalid API key for this project.")
        previous = self.uid
        if token is None:
            self.auth, self.auth_key = None, ""
        else:
            if not isinstance(token, str) or not token:
                raise InvalidArgument("'token' is an access token string, or null for anonymous.")
            from endusers.tokens import access_token_verify

            assert self.hub is not None
            self.auth = await self.hub.db(access_token_verify, self.project_id, token)
        self.auth_key = auth_key(self.auth)
        expires = (self.auth or {}).get("token", {}).get("exp")
        self.auth_expires = float(expires) if isinstance(expires, int | float) else math.inf
        self.authenticated = True
        was_expired, self.expired = self.expired, False
        self.push({"type": "authenticated", "uid": self.uid})
        if previous != self.uid and self.subs:
            # Results were computed for someone else: a refreshed token of the same user
            # keeps its subscriptions, another user starts over.
            for sub in list(self.subs.values()):
                sub.active = False
                self._error(Aborted("The signed-in user changed; subscribe again."), sub.sub_id)
            self.subs.clear()
        elif was_expired:
            for sub in list(self.subs.values()):
                self._follow(sub)  # what was held back comes from the log, in order

    def _auth_lapsed(self) -> bool:
        """True while the user's token has run out; the first time, pause every
        subscription where it stands and tell the client once."""
        if self.expired:
            return True
        if self.auth_expires == math.inf or time.time() < self.auth_expires:
            return False
        self.expired = True
        for sub in self.subs.values():
            sub.live = False
        self._error(Unauthenticated(
            "The access token expired: send an auth message with a fresh token; the changes made meanwhile follow.",
            details={"reason": "token_expired"},
        ))  # fmt: skip
        return True

    @property
    def uid(self) -> str | None:
        return self.auth["uid"] if self.auth else None

    def _unsubscribe(self, sub_id: Any) -> None:
        sub = self.subs.pop(sub_id, None) if isinstance(sub_id, str) else None
        if sub is None:
            raise NotFound(f"No subscription {sub_id!r}.")
        sub.active = False

    def _request_ctx(self) -> RequestContext:
        assert self.ctx is not None
        return RequestContext(
            project_id=self.project_id, key_kind=self.ctx.key_kind, origin="ws", key_id=self.ctx.key_id, auth=self.auth
        )

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub = parse_subscribe(message)
        if sub.sub_id in self.subs:
            raise AlreadyExists(f"Subscription {sub.sub_id!r} exists; unsubscribe first.")
        if self._auth_lapsed():
            raise Unauthenticated("The access token expired: authenticate again first.", details={"reason": "token_expired"})
        if len(self.subs) >= settings.BAAS_REALTIME_MAX_SUBSCRIPTIONS:
            raise ResourceExhausted(f"At most {settings.BAAS_REALTIME_MAX_SUBSCRIPTIONS} subscriptions per connection.")
        assert self.hub is not None and self.feed is not None and self.ctx is not None
        hub, ctx = self.hub, self._request_ctx()
        config = await hub.config(self.project_id, sub.collection)
        hub.configs[(self.project_id, sub.collection)] = (time.monotonic() + settings.BAAS_REALTIME_CONFIG_TTL, config)
        if not ctx.is_privileged and compiled_rule(config, sub.operation) is None:
            raise PermissionDenied(f"Missing or insufficient permissions for '{sub.operation}' on {sub.collection}.")
        reply: dict[str, Any] = {"type": "subscribed", "id": sub.sub_id}
        if sub.resume_from is not None:
            head = await hub.db(changelog.changelog_head, project_id=self.project_id)
            if sub.resume_from > head:
                raise InvalidArgument(f"resumeFrom {sub.resume_from} is ahead of the log ({head}).", details={"head": head})
            oldest = await hub.db(changelog.changelog_oldest, project_id=self.project_id)
            if sub.resume_from < head and (oldest is None or oldest > sub.resume_from + 1):
                raise ResumeExpired(details={"oldest": oldest})
            if sub.doc_id is not None:
                await hub.db(_check_document, ctx, sub)
            position = sub.resume_from
        elif sub.snapshot:
            position, documents = await self._snapshot(ctx, sub, config)
            reply["snapshot"] = documents
        else:
            if sub.doc_id is not None:
                await hub.db(_check_document, ctx, sub)
            position = await hub.db(changelog.changelog_head, project_id=self.project_id)
        sub.position = sub.sent_position = position
        reply["seq"] = position
        self.subs[sub.sub_id] = sub
        self.push(reply)
        self._follow(sub)

    async def _snapshot(self, ctx: RequestContext, sub: Subscription, config: Any) -> tuple[int, list[dict[str, Any]]]:
        """The results at exactly one seq: read the tables, then fold in the log up to a
        head read after every change they could reflect has been numbered."""
        assert self.hub is not None and self.feed is not None
        hub = self.hub
        start = await hub.db(changelog.changelog_head, project_id=self.project_id)
        documents = await hub.db(_read_snapshot, ctx, sub)
        await hub.db(changelog.changelog_sequence)
        end = await hub.db(changelog.changelog_head, project_id=self.project_id)
        fold = SnapshotFold({doc["id"]: doc for doc in documents})
        cursor = start
        while cursor < end:
            entries = await hub.entries_after(self.feed, cursor, end)
            if not entries:
                break
            fold.apply(sub, entries, config=config, privileged=ctx.is_privileged, auth=self.auth)
            cursor = entries[-1].seq
        return end, fold.ordered()

    # --- following the log -----------------------------------------------------------------------

    def _follow(self, sub: Subscription) -> None:
        """Go live at once if the hub is not ahead; else catch up first."""
        assert self.feed is not None
        if self.expired:
            return  # the next auth message follows again
        if self.feed.position <= sub.position:
            sub.live = True
        elif not sub.catching_up:
            sub.live = False
            sub.catching_up = True
            asyncio.ensure_future(self._catch_up(sub))

    async def _catch_up(self, sub: Subscription) -> None:
        assert self.hub is not None and self.feed is not None
        try:
            while sub.active and not self.closing:
                if self._auth_lapsed():
                    return  # paused where it stands; the next auth message follows again
                target = self.feed.position
                if sub.position >= target:
                    sub.live = True  # no await since the check: the next entry offered is position + 1
                    return
                entries = await self.hub.entries_after(self.feed, sub.position, target)
                if not entries or entries[0].seq != sub.position + 1:
                    self.subs.pop(sub.sub_id, None)
                    sub.active = False
                    self._error(ResumeExpired(details={"seq": sub.position}), sub.sub_id)
                    return
                for entry in entries:
                    if not sub.active or self._auth_lapsed():
                        return
                    self._process(sub, EntryView(entry))
                    if not self.drained.is_set():
                        # Replaying is paced by the socket: a resuming client is not
                        # cut off for reading the backlog at network speed.
                        await self.drained.wait()
                        if sub.live or not sub.active:
                            return
        except Exception:
            logger.exception("realtime catch-up failed")
            self.subs.pop(sub.sub_id, None)
            sub.active = False
            self._error(ApplicationError("Internal error while catching up; subscribe again."), sub.sub_id)
        finally:
            sub.catching_up = False

    def offer(self, view: EntryView) -> None:
        """Called by the hub, on the loop, for every entry in seq order."""
        entry = view.entry
        if self.auth_expires != math.inf and self._auth_lapsed():
            return
        for sub in list(self.subs.values()):
            if not sub.live or not sub.active or entry.seq <= sub.position:
                continue
            if entry.seq != sub.position + 1:
                self._follow(sub)  # behind (cannot happen while live): fill from the log
                continue
            self._process(sub, view)

    def _process(self, sub: Subscription, view: EntryView) -> None:
        assert self.hub is not None and self.ctx is not None
        entry = view.entry
        sub.position = entry.seq
        if entry.collection != sub.collection:
            if sub.unsent == 0:
                sub.sent_position = entry.seq
            return
        config = self.hub.config_now(self.project_id, sub.collection)
        if config is None:  # dropped from the cache: deny until refreshed
            self.hub._spawn(self.hub.config(self.project_id, sub.collection))
            message = None
        else:
            message = event_for(
                sub, view, config=config, privileged=self.ctx.is_privileged, auth=self.auth, key=self.auth_key
            )
        if message is not None:
            self.push(message, sub, entry.seq)
        elif sub.unsent == 0:
            sub.sent_position = entry.seq


# --- database reads (run on the hub's threads) ---------------------------------------------------


def _check_document(ctx: RequestContext, sub: Subscription) -> None:
    """A document subscription needs the get rule to allow the document as it is now."""
    try:
        selectors.document_get(ctx=ctx, collection=sub.collection, doc_id=sub.doc_id or "")
    except NotFound:
        pass


def _read_snapshot(ctx: RequestContext, sub: Subscription) -> list[dict[str, Any]]:
    if sub.doc_id is not None:
        try:
            document = selectors.document_get(ctx=ctx, collection=sub.collection, doc_id=sub.doc_id)
        except NotFound:
            return []
        return [selectors.document_json(document)]
    limit = settings.BAAS_REALTIME_SNAPSHOT_MAX
    query: Query = parse_query({"limit": min(limit, 1000)})
    if sub.where is not None:
        query = Query(sub.where, query.order, query.limit, None, None, None)
    documents: list[dict[str, Any]] = []
    while True:
        page = selectors.document_query(ctx=ctx, collection=sub.collection, query=query)
        documents.extend(selectors.document_json(document) for document in page.documents)
        if len(documents) > limit:
            raise FailedPrecondition(
                f"The snapshot would exceed {limit} documents; narrow the query or subscribe without a snapshot.",
                details={"limit": limit},
            )
        if page.next_cursor is None:
            return documents
        query = Query(query.where, query.order, query.limit, decode_cursor(page.next_cursor, query), None, None)
