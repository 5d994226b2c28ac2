"""The object data plane over HTTP, streaming in both directions.

Django's ASGI handler reads a whole request body (into a spooled temporary file) before
a view runs, so neither an early 413 nor a rule check before the bytes arrive would be
possible through it, and the lean edge (baas/api/edge.py) buffers bodies in memory.
Object calls therefore have their own transport, in two forms sharing one ``handle``:

- ``StorageApp``: ASGI, in front of Django. The handler runs on a storage worker thread
  and pulls the body from the event loop chunk by chunk (``AsgiBody``: one ASGI
  ``receive`` per read, so uvicorn's flow control pauses the socket while the backend
  is busy); responses are iterated chunk by chunk on the same pool and sent as they
  are read, and ``send`` waits for the socket to drain. Memory per transfer is a few
  chunks (plus one part in S3 mode) whatever the object's size.
- ``object_view``: the same handler as a Django view (WSGI deployments, the test
  client), reading ``request`` as a stream and answering with a StreamingHttpResponse.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes

import orjson
from django.conf import settings
from django.core.exceptions import RequestAborted, RequestDataTooBig, TooManyFieldsSent
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from baas.api import cors
from baas.api.edge import authenticate_limited
from baas.api.context import RequestContext
from baas.api.errors import (
    ApplicationError,
    Internal,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
)
from baas.api.parsers import json_loads, nul_check
from baas.api.views import apply_rate_limits
from baas.logging import request_id_var
from baas.metrics import http_requests, storage_download_bytes
from projects.usage import usage_request
from storage import direct, selectors, services, signing
from storage.backends import FileSpan, backend_get
from storage.models import Bucket, StoredObject
from storage.sendfile import ClientGone, KernelSocket
from storage.validation import content_disposition, content_type_check, media_type, path_check

logger = logging.getLogger("baas.errors")

ROUTE = re.compile(r"^/v1/projects/(?P<project_id>[^/]+)/buckets/(?P<bucket>[^/]+)/objects(?:/(?P<path>.*))?$", re.DOTALL)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
META_HEADER = "x-baas-meta-"
UNKNOWN_LENGTH = 1 << 62


class RangeNotSatisfiable(ApplicationError):
    code, status, default_message = "range_not_satisfiable", 416, "The requested range is not satisfiable."

    def __init__(self, size: int) -> None:
        super().__init__(details={"size": size})
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


@dataclass
class ObjectRequest:
    method: str
    path: str  # percent-decoded, strictly UTF-8
    headers: dict[str, str]  # lower-case names
    query_string: bytes
    body: Any  # a readable stream: .read(n) -> bytes, b"" at the end
    client_ip: str
    request_id: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class ObjectResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    stream: Iterator[bytes] | None = None

    def encoded(self) -> bytes:
        return b"" if self.json is None else orjson.dumps(self.json)


# --- the handler ----------------------------------------------------------------------------


def _query(raw: bytes) -> dict[str, str]:
    try:
        query = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument("The query string is not valid UTF-8.") from None
    for name, value in query.items():
        nul_check(value, name)
    return query


def handle(request: ObjectRequest) -> ObjectResponse:
    """Route, authenticate and run one object call; every error leaves in the API's shape."""
    token = request_id_var.set(request.request_id)
    try:
        response = _dispatch(request)
    except RequestAborted:
        response = ObjectResponse(400, json=InvalidArgument("The client went away.").as_dict())
    except ApplicationError as error:
        response = ObjectResponse(error.status, error.headers(), json=error.as_dict())
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        error = Internal()
        response = ObjectResponse(error.status, json=error.as_dict())
    finally:
        request_id_var.reset(token)
    return response


def _dispatch(request: ObjectRequest) -> ObjectResponse:
    found = ROUTE.match(request.path)
    if found is None:
        raise NotFound()
    project_id, bucket = found.group("project_id"), found.group("bucket")
    object_path = found.group("path")
    query = _query(request.query_string)
    method = request.method
    if "signature" in query or "expires" in query:
        return _signed(request, query, project_id, bucket, object_path)
    ctx = _authenticate(request, project_id)
    if object_path is None:
        if method in ("GET", "HEAD"):
            return _list(ctx, bucket, query)
        if method == "POST":
            return _upload_multipart(request, ctx, bucket)
        raise MethodNotAllowed(f'Method "{method}" not allowed.')
    if method == "POST" and object_path.endswith(":sign"):
        body = _json_object(request)
        return ObjectResponse(200, json=services.object_sign(ctx=ctx, bucket_name=bucket, path=object_path[:-5], data=body))
    if method == "POST" and object_path.endswith(":upload"):
        body = _json_object(request)
        return ObjectResponse(200, json=direct.direct_upload_start(ctx=ctx, bucket_name=bucket, path=object_path[:-7], data=body))
    if method == "POST" and object_path.endswith(":finalize"):
        body = _json_object(request)
        bucket_row, row, created = direct.direct_upload_finalize(ctx=ctx, bucket_name=bucket, path=object_path[:-9], data=body)
        return ObjectResponse(201 if created else 200, {"ETag": f'"{row.sha256}"'}, json=selectors.object_json(row, bucket_row.name))
    if method in ("GET", "HEAD"):
        if query.get("meta") in ("1", "true"):
            bucket_row, row = selectors.object_get(ctx=ctx, bucket_name=bucket, path=object_path)
            return ObjectResponse(200, {"Cache-Control": "private, no-cache"}, json=selectors.object_json(row, bucket_row.name))
        return _download(request, *selectors.object_get(ctx=ctx, bucket_name=bucket, path=object_path))
    if method == "PUT":
        return _upload_raw(request, ctx, bucket, object_path)
    if method == "DELETE":
        services.object_delete(ctx=ctx, bucket_name=bucket, path=object_path)
        return ObjectResponse(204)
    raise MethodNotAllowed(f'Method "{method}" not allowed.')


def _authenticate(request: ObjectRequest, project_id: str) -> RequestContext:
    return authenticate_limited(
        project_id=project_id,
        api_key=request.header("x-api-key"),
        authorization=request.header("authorization"),
        method=request.method,
        client_ip=request.client_ip,
    )


def _signed(request: ObjectRequest, query: dict[str, str], project_id: str, bucket: str, path: str | None) -> ObjectResponse:
    """A signed URL: it grants exactly one thing, reading that one object until expiry."""
    apply_rate_limits(ip=request.client_ip, caller=None)
    if path is None or request.method not in ("GET", "HEAD"):
        raise PermissionDenied("A signed URL only downloads the object it names.")
    signing.url_verify(
        method="GET",
        project_id=project_id,
        bucket=bucket,
        path=path,
        expires=query.get("expires", ""),
        signature=query.get("signature", ""),
    )
    ctx = RequestContext(project_id=project_id, key_kind="secret", origin="rest")
    return _download(request, *selectors.object_get(ctx=ctx, bucket_name=bucket, path=path))


def _json_object(request: ObjectRequest) -> dict[str, Any]:
    raw = request.body.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    if len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise PayloadTooLarge()
    if not raw.strip():
        return {}
    if media_type(request.header("content-type") or "") != "application/json":
        raise UnsupportedMediaType("Send a JSON body (Content-Type: application/json).")
    data = json_loads(raw)
    if not isinstance(data, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    return data


def _int_param(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidArgument(f"'{name}' must be a whole number.", details={"field": name})
    return int(raw)


def _list(ctx: RequestContext, bucket: str, query: dict[str, str]) -> ObjectResponse:
    page = selectors.objects_list(
        ctx=ctx,
        bucket_name=bucket,
        prefix=query.get("prefix"),
        delimiter=query.get("delimiter"),
        limit=_int_param(query, "limit"),
        cursor=query.get("cursor") or None,
    )
    body = {
        "objects": [selectors.object_json(row, bucket) for row in page.objects],
        "prefixes": page.prefixes,
        "nextCursor": page.next_cursor,
    }
    return ObjectResponse(200, json=body)


# --- uploads --------------------------------------------------------------------------------


def _metadata_headers(request: ObjectRequest) -> dict[str, str]:
    """``X-Baas-Meta-<key>: <value>``; values are percent-decoded UTF-8."""
    found: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.startswith(META_HEADER):
            try:
                found[name[len(META_HEADER):]] = unquote(value.encode("latin-1").decode("utf-8"), errors="strict")
            except UnicodeError:
                raise InvalidArgument(f"Header {name} is not UTF-8.", details={"header": name}) from None
    return found


def _declared_size(request: ObjectRequest) -> int | None:
    raw = request.header("content-length")
    if raw is None or "chunked" in (request.header("transfer-encoding") or "").lower():
        return None
    if not raw.isdigit():
        raise InvalidArgument("Invalid Content-Length.")
    return int(raw)


def _upload_raw(request: ObjectRequest, ctx: RequestContext, bucket: str, path: str) -> ObjectResponse:
    options = services.upload_options(
        ctx=ctx,
        content_type=request.header("content-type"),
        metadata=_metadata_headers(request),
        owner=request.header("x-baas-owner"),
        if_none_match=request.header("if-none-match"),
        if_match=request.header("if-match"),
    )
    existed = _exists(ctx, bucket, path)
    bucket_row, row = services.object_upload(
        ctx=ctx, bucket_name=bucket, path=path, stream=request.body, declared_size=_declared_size(request), options=options
    )
    return ObjectResponse(201 if not existed else 200, {"ETag": f'"{row.sha256}"'}, json=selectors.object_json(row, bucket_row.name))


def _exists(ctx: RequestContext, bucket: str, path: str) -> bool:
    path = path_check(path)
    try:
        bucket_row = selectors.bucket_access(ctx=ctx, name=bucket)
    except NotFound:
        return False
    return selectors.object_row(bucket=bucket_row, path=path) is not None


class BackendUploadHandler(FileUploadHandler):
    """Django's multipart parser hands the ``file`` part here chunk by chunk; it goes
    straight into the backend (no temporary file, no memory buffer)."""

    def __init__(self, bucket: Bucket) -> None:
        super().__init__()
        self.chunk_size = settings.BAAS_STORAGE_CHUNK_SIZE
        self.bucket = bucket
        self.upload: services.BlobUpload | None = None
        self.blob: services.WrittenBlob | None = None
        self.part_content_type = ""

    def new_file(self, field_name: str, file_name: str, content_type: str, content_length: int | None, charset: str | None = None,
                 content_type_extra: dict[str, str] | None = None) -> None:  # fmt: skip
        if field_name != "file":
            raise SkipFile()
        if self.upload is not None or self.blob is not None:
            raise InvalidArgument("Send one file per upload, in the field 'file'.", details={"field": "file"})
        self.part_content_type = content_type_check(
            content_type + (f"; charset={charset}" if charset else ""), field="file"
        )
        self.upload = services.BlobUpload(backend=backend_get(), bucket=self.bucket, content_type=self.part_content_type)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self.upload is not None
        self.upload.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> Any:
        if self.upload is None:
            return None
        upload, self.upload = self.upload, None
        self.blob = upload.commit()
        return self.blob

    def abort(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None
        if self.blob is not None:
            services._blob_discard(backend_get(), self.blob.key)
            self.blob = None


def _upload_multipart(request: ObjectRequest, ctx: RequestContext, bucket_name: str) -> ObjectResponse:
    """``POST …/objects`` multipart/form-data: fields ``path``, ``metadata`` (a JSON
    object), ``owner`` (secret keys), and the file part ``file`` (its own Content-Type)."""
    content_type = request.header("content-type") or ""
    if media_type(content_type) != "multipart/form-data":
        raise UnsupportedMediaType("Upload with multipart/form-data here, or PUT the raw bytes to …/objects/{path}.")
    bucket = selectors.bucket_access(ctx=ctx, name=bucket_name)
    declared = _declared_size(request)
    if declared is not None and declared > bucket.max_file_size + 1024 * 1024:
        raise PayloadTooLarge(
            f"The object exceeds this bucket's limit of {bucket.max_file_size} bytes.", details={"limitBytes": bucket.max_file_size}
        )
    services.release_database()
    handler = BackendUploadHandler(bucket)
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(declared if declared is not None else UNKNOWN_LENGTH)}
    try:
        try:
            fields, files = MultiPartParser(meta, request.body, [handler], "utf-8").parse()
        except (MultiPartParserError, TooManyFieldsSent) as error:
            raise InvalidArgument(f"Malformed multipart body: {error}") from None
        except RequestDataTooBig:
            raise PayloadTooLarge("Form fields other than 'file' exceed the request size limit.") from None
        blob = handler.blob
        if blob is None:
            raise InvalidArgument("The file goes in the multipart field 'file' (with a filename).", details={"field": "file"})
        for name, value in fields.items():
            nul_check(value, name)
        metadata: Any = None
        if fields.get("metadata"):
            try:
                metadata = orjson.loads(fields["metadata"])
            except orjson.JSONDecodeError:
                raise InvalidArgument("'metadata' must be a JSON object.", details={"field": "metadata"}) from None
        options = services.upload_options(
            ctx=ctx, content_type=handler.part_content_type, metadata=metadata, owner=fields.get("owner")
        )
        path = path_check(fields.get("path"))
        existed = _exists(ctx, bucket_name, path)
        handler.blob = None  # from here on object_finalize owns (and on failure deletes) the bytes
        row = services.object_finalize(ctx=ctx, bucket=bucket, path=path, blob=blob, options=options)
    except BaseException:
        handler.abort()
        raise
    return ObjectResponse(201 if not existed else 200, {"ETag": f'"{row.sha256}"'}, json=selectors.object_json(row, bucket.name))


# --- downloads ------------------------------------------------------------------------------


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as (first, last); None to serve everything (no header, one we
    do not understand, or several ranges). Unsatisfiable → 416."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    specs = header.strip()[6:].split(",")
    if len(specs) != 1:
        return None
    first, dash, last = specs[0].strip().partition("-")
    if not dash or (first and not first.isdigit()) or (last and not last.isdigit()) or (not first and not last):
        return None
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def _download(request: ObjectRequest, bucket: Bucket, row: StoredObject) -> ObjectResponse:
    etag = f'"{row.sha256}"'
    headers = {
        "ETag": etag,
        "Last-Modified": email.utils.format_datetime(row.updated_at, usegmt=True),
        "Cache-Control": "private, no-cache",
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        # An object opened directly can never script the API's origin.
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    for key, value in (row.metadata or {}).items():
        headers[f"X-Baas-Meta-{key}"] = quote(value, safe=" !#$&'()*+,/:;=?@[]~")
    if _etag_matches(request.header("if-none-match"), etag):
        return ObjectResponse(304, headers)
    byte_range = _byte_range(request.header("range"), row.size)
    if_range = request.header("if-range")
    if byte_range is not None and if_range is not None and if_range.strip() != etag:
        byte_range = None
    headers["Content-Type"] = row.content_type
    headers["Content-Disposition"] = content_disposition(row.path, row.content_type)
    status, start, end = 200, 0, row.size - 1
    if byte_range is not None:
        status, (start, end) = 206, byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{row.size}"
    headers["Content-Length"] = str(end - start + 1 if row.size else 0)
    if request.method == "HEAD":
        return ObjectResponse(status, headers)
    services.release_database()
    stream = backend_get().read(row.blob_key, start, end) if row.size else iter(())
    return ObjectResponse(status, headers, stream=stream)


# --- ASGI transport -------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiBody:
    """The request body as a blocking stream for a worker thread: each read waits for
    the next ASGI message on the event loop."""

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self.receive, self.loop = receive, loop
        self.buffer = memoryview(b"")
        self.done = False

    def read(self, size: int = -1, /) -> bytes:
        while not self.buffer and not self.done:
            future = asyncio.run_coroutine_threadsafe(self.receive(), self.loop)
            try:
                message = future.result(timeout=settings.BAAS_STORAGE_IDLE_TIMEOUT)
            except FutureTimeout:
                future.cancel()
                raise RequestAborted("the client sent nothing for too long") from None
            if message["type"] == "http.disconnect":
                raise RequestAborted("the client went away")
            self.buffer = memoryview(message.get("body", b""))
            self.done = not message.get("more_body", False)
        if size < 0 or size >= len(self.buffer):
            chunk, self.buffer = self.buffer, memoryview(b"")
        else:
            chunk, self.buffer = self.buffer[:size], self.buffer[size:]
        return bytes(chunk)


def _run(request: ObjectRequest) -> ObjectResponse:
    close_old_connections()
    try:
        return handle(request)
    finally:
        close_old_connections()


def _client_ip(headers: dict[str, str], peer: str) -> str:
    if settings.BAAS_TRUST_X_FORWARDED_FOR:
        forwarded = headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return peer


def _request_id(incoming: str | None) -> str:
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _strict_path(scope: Scope) -> str | None:
    raw = scope.get("raw_path")
    if not raw:
        return str(scope["path"])
    try:
        return unquote_to_bytes(raw.split(b"?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        return None


class StorageApp:
    """Answer object calls (``/v1/projects/{p}/buckets/{b}/objects…``); hand every other
    request to ``fallback``."""

    def __init__(self, fallback: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.fallback = fallback
        self.pool = ThreadPoolExecutor(max_workers=settings.BAAS_STORAGE_THREADS, thread_name_prefix="storage")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not ROUTE.match(scope["path"]):
            await self.fallback(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            headers[key] = f"{headers[key]}, {value.decode('latin-1')}" if key in headers else value.decode("latin-1")
        request_id = _request_id(headers.get("x-request-id"))
        origin = headers.get("origin")
        if origin is not None and cors.is_preflight(scope["method"], headers):
            await self._send(send, ObjectResponse(204), request_id, scope["method"], loop, extra=cors.preflight_headers(headers))
            return
        extra = cors.response_headers(origin) if origin is not None else ()
        path = _strict_path(scope)
        if path is None:
            error = InvalidArgument("The path is not valid UTF-8.")
            await self._send(send, ObjectResponse(400, json=error.as_dict()), request_id, scope["method"], loop, extra=extra)
            return
        client = scope.get("client") or ("unknown", 0)
        request = ObjectRequest(
            method=scope["method"],
            path=path,
            headers=headers,
            query_string=scope.get("query_string", b""),
            body=AsgiBody(receive, loop),
            client_ip=_client_ip(headers, client[0]),
            request_id=request_id,
        )
        response = await loop.run_in_executor(self.pool, _run, request)
        await self._send(send, response, request_id, scope["method"], loop, receive, extra=extra, scope=scope)
        usage_request(path.split("/", 4)[3], response.status)  # /v1/projects/{id}/…
        http_requests.labels(scope["method"], str(response.status)).inc()

    async def _send(
        self,
        send: Send,
        response: ObjectResponse,
        request_id: str,
        method: str,
        loop: asyncio.AbstractEventLoop,
        receive: Receive | None = None,
        extra: list[tuple[bytes, bytes]] | tuple[()] = (),
        scope: Scope | None = None,
    ) -> None:
        body = response.encoded()
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        headers.extend(extra)
        if response.json is not None:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
        elif response.stream is None and "Content-Length" not in response.headers and response.status not in (204, 304):
            headers.append((b"content-length", b"0"))
        headers.append((b"x-request-id", request_id.encode()))
        if "X-Content-Type-Options" not in response.headers:
            headers.append((b"x-content-type-options", b"nosniff"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        stream = response.stream
        if stream is None:
            await send({"type": "http.response.body", "body": body})
            return
        gone = asyncio.Event()

        async def watch() -> None:
            assert receive is not None
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        kernel = None
        if isinstance(stream, FileSpan) and scope is not None and settings.BAAS_STORAGE_SENDFILE:
            kernel = KernelSocket.behind(send, scope)
        if kernel is not None:
            assert isinstance(stream, FileSpan)
            try:
                await kernel.send_file(
                    loop, self.pool, stream.fileno(), stream.offset, stream.count, gone, settings.BAAS_STORAGE_IDLE_TIMEOUT
                )
                storage_download_bytes.labels("sendfile").inc(stream.count)
                await send({"type": "http.response.body", "body": b""})
            except (ClientGone, OSError):
                pass  # the response stays incomplete: uvicorn closes the connection
            finally:
                watcher.cancel()
                stream.close()
            return
        streamed = storage_download_bytes.labels("stream")
        # The next chunk is read while this one is sent (one read in flight at a time).
        pending: asyncio.Future[bytes | None] | None = loop.run_in_executor(self.pool, next, stream, None)
        try:
            while not gone.is_set():
                assert pending is not None
                chunk = await pending
                pending = None
                if chunk is None:
                    break
                pending = loop.run_in_executor(self.pool, next, stream, None)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                streamed.inc(len(chunk))
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            if pending is not None:
                await asyncio.wait([pending])
            close = getattr(stream, "close", None)
            if close is not None:
                await loop.run_in_executor(self.pool, close)


# --- Django transport -----------------------------------------------------------------------


def object_view(request: HttpRequest, **params: str) -> HttpResponse:
    """The object calls inside Django's URLconf (WSGI and the test client)."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        path = request.META["PATH_INFO"].encode("latin-1").decode("utf-8")
    except UnicodeError:
        path = request.path
    response = handle(
        ObjectRequest(
            method=request.method or "GET",
            path=path,
            headers=headers,
            query_string=request.META.get("QUERY_STRING", "").encode("latin-1"),
            body=request,
            client_ip=_client_ip(headers, str(request.META.get("REMOTE_ADDR") or "unknown")),
            request_id=getattr(request, "request_id", None) or _request_id(headers.get("x-request-id")),
        )
    )
    result: HttpResponse | StreamingHttpResponse
    if response.stream is not None:
        result = StreamingHttpResponse(response.stream, status=response.status)
    else:
        result = HttpResponse(response.encoded(), status=response.status)
        if response.json is not None:
            result["Content-Type"] = "application/json"
        else:
            del result["Content-Type"]
    for name, value in response.headers.items():
        result[name] = value
    return result


object_view.csrf_exempt = True  # type: ignore[attr-defined]
