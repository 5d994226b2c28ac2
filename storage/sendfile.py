"""Downloads handed to the kernel: ``sendfile(2)`` from the stored file to the client socket.

A download through ASGI copies every byte twice in the server (page cache → Python bytes
→ socket). uvicorn offers no ``http.response.zerocopysend``, so when the server is
uvicorn's httptools protocol on plain TCP, the status line and headers still go through
ASGI (uvicorn keeps its keep-alive and response state), and the body is sent by the
kernel from the file to the socket; uvicorn is then told the declared length was sent
and the empty final ASGI body message completes the response.

How it stays safe next to the event loop:

- the body goes out on a ``dup`` of the socket, so the descriptor number cannot be
  closed and reused by another connection while a send is in flight;
- nothing else writes to the socket meanwhile: the headers are flushed first (else the
  ASGI path is used) and uvicorn writes nothing more until the response completes;
- ``sendfile`` runs on a storage thread (a file not in the page cache blocks on the
  disk, never the event loop) until the socket buffer is full; the loop then waits for
  it to drain (``add_writer`` on the dup), for the client to go away, or for the idle
  timeout, with no thread held by a slow reader;
- TLS (the bytes would bypass encryption) and every other server use the ASGI path.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

SEND_CALL_BYTES = 64 * 1024 * 1024  # at most this much per sendfile call: a thread returns to the pool


class ClientGone(ConnectionError):
    """The client disconnected, stopped reading for the idle timeout, or the file shrank."""


class KernelSocket:
    """The plain TCP socket under one uvicorn (httptools) response cycle."""

    __slots__ = ("cycle", "transport")

    def __init__(self, cycle: Any) -> None:
        self.cycle = cycle
        self.transport = cycle.transport

    @classmethod
    def behind(cls, send: Callable[..., Any], scope: dict[str, Any]) -> KernelSocket | None:
        """The socket behind an ASGI ``send`` if a body may be sent to it by the kernel.

        Call after ``http.response.start`` (with a Content-Length): uvicorn has written the
        headers and settled how the body is framed."""
        cycle = getattr(send, "__self__", None)
        if type(cycle).__name__ != "RequestResponseCycle" or type(cycle).__module__ != "uvicorn.protocols.http.httptools_impl":
            return None
        transport = getattr(cycle, "transport", None)
        if (
            scope.get("scheme") != "http"
            or transport is None
            or transport.is_closing()
            or transport.get_extra_info("sslcontext") is not None
            or transport.get_extra_info("ssl_object") is not None
            or transport.get_write_buffer_size() != 0  # headers not yet in the kernel
            or getattr(cycle, "chunked_encoding", None) is not False
            or not isinstance(getattr(cycle, "expected_content_length", None), int)
            or getattr(cycle, "response_complete", True)
            or getattr(cycle, "disconnected", True)
        ):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return None
        return cls(cycle)

    async def send_file(
        self, loop: asyncio.AbstractEventLoop, pool: Executor, file_fd: int, offset: int, count: int,
        gone: asyncio.Event, idle_timeout: float,
    ) -> None:
        """Send ``count`` bytes of the file from ``offset``, then let uvicorn finish the
        response as if the body had gone through it. Raises ClientGone if it could not."""
        if count > self.cycle.expected_content_length:
            raise ValueError("more bytes than the declared Content-Length")
        total = count
        descriptor = os.dup(self.transport.get_extra_info("socket").fileno())
        try:
            while count > 0:
                if gone.is_set() or self.transport.is_closing():
                    raise ClientGone("the client went away")
                sent = await loop.run_in_executor(pool, _send_until_full, descriptor, file_fd, offset, count)
                offset += sent
                count -= sent
                if count > 0:
                    await _writable(loop, descriptor, gone, idle_timeout)
        finally:
            os.close(descriptor)
        self.cycle.expected_content_length -= total


def _send_until_full(descriptor: int, file_fd: int, offset: int, count: int) -> int:
    """Bytes sent before the socket buffer filled (0 if it already was), on a pool thread."""
    sent = 0
    while sent < count:
        try:
            done = os.sendfile(descriptor, file_fd, offset + sent, min(count - sent, SEND_CALL_BYTES))
        except BlockingIOError:
            return sent
        except OSError as exc:  # EPIPE, ECONNRESET: the client is gone
            raise ClientGone(str(exc)) from exc
        if done == 0:
            raise ClientGone("the file ended before its declared length")
        sent += done
        if sent >= SEND_CALL_BYTES:
            return sent  # back to the loop now and then: it may have been told the client left
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, descriptor: int, gone: asyncio.Event, idle_timeout: float) -> None:
    ready = loop.create_future()

    def on_writable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(descriptor, on_writable)
    gone_wait = asyncio.ensure_future(gone.wait())
    try:
        done, _ = await asyncio.wait({ready, gone_wait}, timeout=idle_timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_writer(descriptor)
        gone_wait.cancel()
        ready.cancel()
    if ready not in done:
        raise ClientGone("the client went away" if gone.is_set() else "the client read nothing for the idle timeout")
