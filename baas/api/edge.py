"""The lean HTTP edge for the data plane's hot endpoints.

Django's request cycle under ASGI (middleware adapted between sync and async, DRF's
negotiation and rendering) costs over a millisecond of CPU per request before any work
is done; the data plane (document reads, writes, queries) cannot afford it. Its
handlers are plain functions of an ``EdgeRequest`` returning an ``EdgeResponse``,
served two ways that share everything but the transport:

- ``EdgeApp``: an ASGI app in front of Django that answers matching routes itself
  (one thread hop per request), and passes every other request to Django;
- ``django_view``: the same routes inside Django's URLconf, for WSGI deployments and
  Django's test client.

The kernel pieces are the same as the DRF views': key authentication, rate limits, the
error shape, request ids and metrics.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse

from baas.api import cors
from baas.api.authentication import authenticate_cached, authenticate_project_request
from baas.api.context import RequestContext
from baas.api.errors import (
    ApplicationError,
    Internal,
    InvalidArgument,
    MethodNotAllowed,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
)
from baas.api.parsers import json_loads
from baas.api.views import SAFE_METHODS, apply_rate_limits
from baas.logging import request_id_var
from baas.metrics import http_latency, http_requests
from projects.usage import usage_request

logger = logging.getLogger("baas.errors")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
GZIP_MIN_BYTES = 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class EdgeRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    client_ip: str
    request_id: str
    ctx: RequestContext | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        content_type = self.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise UnsupportedMediaType(f'Unsupported media type "{content_type}" in request.')
        return json_loads(self.body)

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise InvalidArgument("The request body must be a JSON object.")
        return data


@dataclass(slots=True)
class EdgeResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[EdgeRequest], EdgeResponse]
# Runs on the event loop; must do no blocking database work; None = take the general path.
FastHandler = Callable[[EdgeRequest], Awaitable["EdgeResponse | None"]]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str  # e.g. "v1/projects/<project_id>/collections/<collection>/documents/<doc_id>"
    handlers: dict[str, Handler]
    summary: str = ""
    secret_only: bool = False
    read_only: bool = False  # a POST that only reads (a query) runs on the read pool
    waits: bool = False  # its handler mostly waits (a function call): the waiting pool
    fast: dict[str, FastHandler] = field(default_factory=dict)
    # Per method: OpenAPI "parameters", "requestBody", "responses" and "errors" (statuses).
    openapi: dict[str, dict[str, Any]] = field(default_factory=dict)

    def is_write(self, method: str) -> bool:
        return not self.read_only and method not in SAFE_METHODS

    @property
    def regex(self) -> re.Pattern[str]:
        converted = re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", re.escape(self.pattern).replace(r"\<", "<").replace(r"\>", ">"))
        return re.compile(f"^/{converted}$")


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = [(route.regex, route) for route in routes]

    def match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for regex, route in self.routes:
            found = regex.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


# --- dispatch (sync, in a worker thread) ---------------------------------------------------


def authenticate_limited(
    *, project_id: str, api_key: str | None, authorization: str | None, method: str, client_ip: str
) -> RequestContext:
    """Who is calling, with the rate limits applied: per caller once known, and per IP
    always (failed attempts count against the IP)."""
    try:
        ctx = authenticate_project_request(
            project_id=project_id, api_key=api_key, authorization=authorization, safe_method=method in SAFE_METHODS
        )
    except ApplicationError:
        apply_rate_limits(ip=client_ip, caller=None)
        raise
    caller = f"key:{ctx.key_id}" if ctx.key_id is not None else f"user:{ctx.console_user_id}"
    apply_rate_limits(ip=client_ip, caller=caller)
    return ctx


def _authenticate(request: EdgeRequest, route: Route) -> None:
    if "project_id" not in request.params or request.ctx is not None:
        return
    ctx = authenticate_limited(
        project_id=request.params["project_id"],
        api_key=request.header("x-api-key"),
        authorization=request.header("authorization"),
        method=request.method,
        client_ip=request.client_ip,
    )
    if route.secret_only and not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")
    request.ctx = ctx


def dispatch(route: Route, request: EdgeRequest) -> EdgeResponse:
    """Run a route's handler; every error leaves in the spec's shape."""
    token = request_id_var.set(request.request_id)
    try:
        handler = route.handlers.get(request.method)
        if handler is None and request.method == "HEAD":
            handler = route.handlers.get("GET")
        if handler is None:
            raise MethodNotAllowed(f'Method "{request.method}" not allowed.')
        _authenticate(request, route)
        response = handler(request)
    except ApplicationError as error:
        response = EdgeResponse(error.status, error.as_dict(), error.headers())
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        error = Internal()
        response = EdgeResponse(error.status, error.as_dict())
    finally:
        request_id_var.reset(token)
    return response


async def dispatch_fast(route: Route, request: EdgeRequest, handler: FastHandler) -> EdgeResponse | None:
    """Run a fast handler on the event loop when everything it needs is cached in the
    process; None sends the request down the general (threaded) path instead."""
    token = request_id_var.set(request.request_id)
    try:
        if "project_id" in request.params:
            ctx = authenticate_cached(
                project_id=request.params["project_id"],
                api_key=request.header("x-api-key"),
                authorization=request.header("authorization"),
            )
            if ctx is None:
                return None
            apply_rate_limits(ip=request.client_ip, caller=f"key:{ctx.key_id}")
            if route.secret_only and not ctx.is_privileged:
                raise PermissionDenied("This call needs a secret key.")
            request.ctx = ctx  # counted and authenticated: the general path will not repeat it
        return await handler(request)
    except ApplicationError as error:
        return EdgeResponse(error.status, error.as_dict(), error.headers())
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        error = Internal()
        return EdgeResponse(error.status, error.as_dict())
    finally:
        request_id_var.reset(token)


def _serialize(response: EdgeResponse, accept_encoding: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    headers = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
    if response.body is None or response.status in (204, 304):
        return b"", headers
    body = response.body if isinstance(response.body, bytes) else orjson.dumps(response.body)
    headers.append((b"content-type", b"application/json"))
    if len(body) >= GZIP_MIN_BYTES and "gzip" in accept_encoding:
        body = gzip.compress(body, compresslevel=5)
        headers.append((b"content-encoding", b"gzip"))
        headers.append((b"vary", b"Accept-Encoding"))
    return body, headers


def _request_id(incoming: str | None) -> str:
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _run(route: Route, request: EdgeRequest) -> EdgeResponse:
    close_old_connections()
    try:
        return dispatch(route, request)
    finally:
        close_old_connections()


# --- ASGI transport ---------------------------------------------------------------------------


class EdgeApp:
    """Serve the router's routes; hand everything else to ``fallback`` (Django)."""

    def __init__(self, router: Router, fallback: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.router = router
        self.fallback = fallback
        # Two pools. Reads are CPU-bound: a few threads per process, since more would
        # raise throughput a little and tail latency a lot (GIL contention); throughput
        # comes from processes. Writes mostly wait for the WAL flush at commit: many in
        # flight let PostgreSQL flush many commits at once (group commit).
        # A third holds requests that wait on other processes (function calls), so slow
        # functions cannot take the writers' threads.
        if settings.BAAS_EDGE_THREAD_SENSITIVE:
            self.run_read = self.run_write = self.run_waiting = sync_to_async(_run, thread_sensitive=True)
        else:
            readers = ThreadPoolExecutor(max_workers=settings.BAAS_EDGE_THREADS, thread_name_prefix="edge-read")
            writers = ThreadPoolExecutor(max_workers=settings.BAAS_EDGE_WRITE_THREADS, thread_name_prefix="edge-write")
            waiters = ThreadPoolExecutor(max_workers=settings.BAAS_EDGE_WAITING_THREADS, thread_name_prefix="edge-wait")
            self.run_read = sync_to_async(_run, thread_sensitive=False, executor=readers)
            self.run_write = sync_to_async(_run, thread_sensitive=False, executor=writers)
            self.run_waiting = sync_to_async(_run, thread_sensitive=False, executor=waiters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        found = self.router.match(scope["path"])
        if found is None:
            await self.fallback(scope, receive, send)
            return
        started = time.perf_counter()
        route, params = found
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        request_id = _request_id(headers.get("x-request-id"))
        origin = headers.get("origin")
        if origin is not None and cors.is_preflight(scope["method"], headers):
            await _send(send, EdgeResponse(204), request_id, "", cors.preflight_headers(headers))
            return
        extra = cors.response_headers(origin) if origin is not None else ()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            body = await _read_body(receive, headers, limit)
        except PayloadTooLarge as error:
            await _send(send, EdgeResponse(413, error.as_dict(), {"connection": "close"}), request_id, "", extra)
            return
        client = scope.get("client") or ("unknown", 0)
        request = EdgeRequest(
            method=scope["method"],
            path=scope["path"],
            params=params,
            headers=headers,
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            body=body,
            client_ip=_client_ip(headers, client[0]),
            request_id=request_id,
        )
        fast = route.fast.get(request.method) if settings.BAAS_EDGE_FAST_PATHS else None
        response = await dispatch_fast(route, request, fast) if fast is not None else None
        if response is None:
            if route.waits:
                run = self.run_waiting
            else:
                run = self.run_write if route.is_write(request.method) else self.run_read
            response = await run(route, request)
        await _send(send, response, request_id, headers.get("accept-encoding", ""), extra)
        usage_request(params.get("project_id", ""), response.status)
        http_requests.labels(request.method, str(response.status)).inc()
        http_latency.observe(time.perf_counter() - started)


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send(
    send: Send, response: EdgeResponse, request_id: str, accept_encoding: str, extra: list[tuple[bytes, bytes]] | tuple[()] = ()
) -> None:
    body, headers = _serialize(response, accept_encoding)
    headers.extend(extra)
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((b"x-request-id", request_id.encode()))
    headers.append((b"x-content-type-options", b"nosniff"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client_ip(headers: dict[str, str], peer: str) -> str:
    if settings.BAAS_TRUST_X_FORWARDED_FOR:
        forwarded = headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return peer


# --- Django transport -------------------------------------------------------------------------


def django_view(route: Route) -> Callable[..., HttpResponse]:
    """The route as a Django view (same handlers; Django's middleware around it)."""

    def view(request: HttpRequest, **params: str) -> HttpResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = headers.get("content-length")
        try:
            if declared and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
            body = request.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
        except PayloadTooLarge as error:
            return _django_response(EdgeResponse(413, error.as_dict()))
        edge_request = EdgeRequest(
            method=request.method or "GET",
            path=request.path,
            params=params,
            headers=headers,
            query={k: v for k, v in request.GET.items()},
            body=body,
            client_ip=_client_ip(headers, str(request.META.get("REMOTE_ADDR") or "unknown")),
            request_id=getattr(request, "request_id", None) or _request_id(headers.get("x-request-id")),
        )
        return _django_response(dispatch(route, edge_request))

    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _django_response(response: EdgeResponse) -> HttpResponse:
    body, headers = _serialize(response, accept_encoding="")  # Django's GZip middleware compresses
    result = HttpResponse(body, status=response.status, content_type=None)
    for name, value in headers:
        result[name.decode()] = value.decode()
    if not body:
        del result["Content-Type"]
    return result


def django_urlpatterns(routes: list[Route]) -> list[Any]:
    """Django matches paths without their leading slash."""
    from django.urls import re_path

    return [re_path("^" + route.regex.pattern.removeprefix("^/"), django_view(route)) for route in routes]


# --- OpenAPI ----------------------------------------------------------------------------------


_OPERATION_NAMES = {"GET": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}


def openapi_paths(routes: list[Route]) -> dict[str, Any]:
    """Edge routes described for the OpenAPI document (merged by a drf-spectacular hook):
    each route's ``openapi`` gives its bodies, responses and extra parameters."""
    from baas.api.schema import operation_tag, raw_errors

    paths: dict[str, Any] = {}
    for route in routes:
        path = "/" + re.sub(r"<(\w+)>", r"{\1}", route.pattern)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"<(\w+)>", route.pattern)
        ]
        operations: dict[str, Any] = {}
        for method, handler in route.handlers.items():
            spec = route.openapi.get(method, {})
            doc = (handler.__doc__ or route.summary).strip().splitlines()[0]
            operation: dict[str, Any] = {
                "operationId": handler.__name__,
                "summary": doc,
                "tags": [operation_tag(path)],
                "parameters": parameters + spec.get("parameters", []),
                "responses": {**spec["responses"], **raw_errors(401, 429, *spec.get("errors", ()))},
                "security": [{"ApiKey": []}],
            }
            if "requestBody" in spec:
                operation["requestBody"] = spec["requestBody"]
            operations[_OPERATION_NAMES[method]] = operation
        paths[path] = operations
    return paths
