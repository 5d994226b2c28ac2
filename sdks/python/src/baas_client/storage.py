"""Storage: uploads with progress from bytes, files or iterators; streaming downloads;
metadata, listings and signed URLs. Object paths are sent percent-encoded per segment."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from baas_client.transport import Call, Transport, segment

CHUNK_SIZE = 256 * 1024
Progress = Callable[[int, "int | None"], None]  # (bytes sent so far, total or None)


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    path: str
    size: int
    content_type: str
    sha256: str
    metadata: dict[str, str]
    owner: str | None
    create_time: str | None
    update_time: str | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> StoredObject:
        return cls(
            bucket=body["bucket"], path=body["path"], size=body["size"], content_type=body.get("contentType", ""),
            sha256=body.get("sha256", ""), metadata=body.get("metadata") or {}, owner=body.get("owner"),
            create_time=body.get("createTime"), update_time=body.get("updateTime"),
        )


@dataclass(frozen=True)
class ObjectList:
    objects: list[StoredObject]
    prefixes: list[str]
    next_cursor: str | None


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expire_time: str
    direct_url: str | None = None


def _object(response: httpx.Response) -> StoredObject:
    return StoredObject.from_json(response.json())


def _size_of(data: Any) -> int | None:
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    if hasattr(data, "seek") and hasattr(data, "tell"):
        try:
            position = data.tell()
            end = data.seek(0, os.SEEK_END)
            data.seek(position)
            return int(end - position)
        except (OSError, ValueError):
            return None
    return None


def _chunks(data: Any, chunk_size: int) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start:start + chunk_size])
    elif hasattr(data, "read"):
        while chunk := data.read(chunk_size):
            yield chunk
    else:
        yield from data


def _counted(chunks: Iterator[bytes], total: int | None, on_progress: Progress | None) -> Iterator[bytes]:
    sent = 0
    if on_progress:
        on_progress(0, total)
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        if on_progress:
            on_progress(sent, total)


async def _acounted(data: Any, chunk_size: int, total: int | None, on_progress: Progress | None) -> AsyncIterator[bytes]:
    sent = 0
    if on_progress:
        on_progress(0, total)
    if hasattr(data, "__aiter__"):
        source: Any = data
    else:
        source = None
    if source is not None:
        async for chunk in source:
            yield chunk
            sent += len(chunk)
            if on_progress:
                on_progress(sent, total)
        return
    iterator = _chunks(data, chunk_size)
    while True:
        # Files are read in a thread so a slow disk does not stall the event loop.
        chunk = await asyncio.to_thread(next, iterator, None) if hasattr(data, "read") else next(iterator, None)
        if chunk is None:
            return
        yield chunk
        sent += len(chunk)
        if on_progress:
            on_progress(sent, total)


class Bucket:
    def __init__(self, transport: Transport, name: str) -> None:
        self._t = transport
        self.name = name

    def _path(self, path: str, suffix: str = "") -> str:
        return f"buckets/{segment(self.name)}/objects/{quote(path, safe='/')}{suffix}"

    def upload(self, path: str, data: bytes | BinaryIO | Iterable[bytes] | Any, *, content_type: str | None = None,
               metadata: Mapping[str, str] | None = None, on_progress: Progress | None = None,
               create_only: bool = False, if_sha256: str | None = None, size: int | None = None,
               chunk_size: int = CHUNK_SIZE) -> Any:
        """Upload ``data`` (bytes, a binary file object, or an iterator of bytes) to ``path``.

        The size is declared when known (bytes, seekable files, or ``size=``) so the server
        refuses an oversized upload before the body is sent; ``on_progress(sent, total)``
        is called as chunks go out. ``create_only`` fails with ``AlreadyExists`` if the
        object exists; ``if_sha256`` replaces only that content (else ``FailedPrecondition``).
        """
        total = size if size is not None else _size_of(data)
        headers = {"Content-Type": content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"}
        if total is not None:
            headers["Content-Length"] = str(total)
        for key, value in (metadata or {}).items():
            headers[f"X-Baas-Meta-{key}"] = quote(str(value), safe="")
        if create_only:
            headers["If-None-Match"] = "*"
        if if_sha256 is not None:
            headers["If-Match"] = f'"{if_sha256}"'
        if self._t.is_async:
            content: Any = _acounted(data, chunk_size, total, on_progress)
        else:
            content = _counted(_chunks(data, chunk_size), total, on_progress)
        return self._t.run(Call("PUT", self._path(path), headers=headers, content=content, retryable=False,
                                parse=_object, timeout=None))

    def download(self, path: str, *, range: tuple[int, int | None] | None = None) -> Any:
        """The object's bytes (``range=(start, end_inclusive_or_None)`` for a part)."""
        return self._t.run(Call("GET", self._path(path), headers=_range(range), parse=lambda r: r.content))

    def stream(self, path: str, *, range: tuple[int, int | None] | None = None, chunk_size: int = CHUNK_SIZE) -> Any:
        """A context manager over the object's bytes, read as they arrive:
        ``with bucket.stream(p) as chunks: for c in chunks`` (``async with``/``async for``
        on ``AsyncClient``)."""
        call = Call("GET", self._path(path), headers=_range(range))
        if self._t.is_async:
            return self._astream(call, chunk_size)
        return self._stream(call, chunk_size)

    @contextmanager
    def _stream(self, call: Call, chunk_size: int) -> Iterator[Iterator[bytes]]:
        with self._t.stream(call) as response:  # type: ignore[union-attr]
            yield response.iter_bytes(chunk_size)

    @asynccontextmanager
    async def _astream(self, call: Call, chunk_size: int) -> AsyncIterator[AsyncIterator[bytes]]:
        async with self._t.stream(call) as response:  # type: ignore[union-attr]
            yield response.aiter_bytes(chunk_size)

    def metadata(self, path: str) -> Any:
        return self._t.run(Call("GET", self._path(path), params={"meta": "1"}, parse=_object))

    def list(self, *, prefix: str | None = None, delimiter: str | None = None, limit: int | None = None,
             cursor: str | None = None) -> Any:
        params = {"prefix": prefix, "delimiter": delimiter, "limit": limit, "cursor": cursor}
        return self._t.run(Call("GET", f"buckets/{segment(self.name)}/objects", params=params, parse=_list))

    def list_all(self, *, prefix: str | None = None, delimiter: str | None = None, page_size: int = 100) -> Any:
        """Every object (and folder prefix) across pages: an iterator of ``ObjectList``
        pages (an async iterator on ``AsyncClient``)."""
        if self._t.is_async:
            return self._alist_all(prefix, delimiter, page_size)
        return self._list_all(prefix, delimiter, page_size)

    def _list_all(self, prefix: str | None, delimiter: str | None, page_size: int) -> Iterator[ObjectList]:
        cursor = None
        while True:
            page: ObjectList = self.list(prefix=prefix, delimiter=delimiter, limit=page_size, cursor=cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def _alist_all(self, prefix: str | None, delimiter: str | None, page_size: int) -> AsyncIterator[ObjectList]:
        cursor = None
        while True:
            page: ObjectList = await self.list(prefix=prefix, delimiter=delimiter, limit=page_size, cursor=cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def delete(self, path: str) -> Any:
        return self._t.run(Call("DELETE", self._path(path), parse=lambda r: None))

    def sign(self, path: str, *, expires_in: int = 3600) -> Any:
        """A URL that downloads this object without a key until it expires."""
        return self._t.run(Call("POST", self._path(path, ":sign"), json={"expiresIn": expires_in},
                                parse=lambda r: SignedUrl(r.json()["url"], r.json()["expireTime"], r.json().get("directUrl"))))


def _range(span: tuple[int, int | None] | None) -> dict[str, str]:
    if span is None:
        return {}
    start, end = span
    return {"Range": f"bytes={start}-{'' if end is None else end}"}


def _list(response: httpx.Response) -> ObjectList:
    body = response.json()
    return ObjectList([StoredObject.from_json(o) for o in body["objects"]], list(body.get("prefixes") or []),
                      body.get("nextCursor"))


class Storage:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def bucket(self, name: str) -> Bucket:
        return Bucket(self._t, name)
