"""Framing of the control channel between the platform and a sandbox process.

Each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Both
sides refuse a message over their limit, so neither can make the other buffer without
bound. Shared verbatim by the parent (as ``functions.runtime.baas_functions._wire``) and
the child (as ``baas_functions._wire``): standard library only.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

HEADER = struct.Struct("!I")


class WireError(Exception):
    """The peer broke the protocol (oversized or malformed message, early close)."""


class MessageTooLarge(WireError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the limit of {limit} bytes")
        self.size, self.limit = size, limit


def encode(message: dict[str, Any], limit: int) -> bytes:
    """JSON bytes with their header; NaN and infinities are refused like any non-JSON value."""
    data = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(data) > limit:
        raise MessageTooLarge(len(data), limit)
    return HEADER.pack(len(data)) + data


def send(sock: socket.socket, message: dict[str, Any], limit: int) -> None:
    sock.sendall(encode(message, limit))


class Reader:
    """Reads whole messages from a stream socket, with an optional deadline."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock, self.limit = sock, limit
        self.buffer = bytearray()

    def _fill(self, deadline: float | None) -> bool:
        """One recv; False at end of stream. Raises TimeoutError past the deadline."""
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
        else:
            self.sock.settimeout(None)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError from None
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read(self, deadline: float | None = None) -> dict[str, Any] | None:
        """The next message, or None when the peer closed the channel between messages."""
        while len(self.buffer) < HEADER.size:
            if not self._fill(deadline):
                if self.buffer:
                    raise WireError("channel closed inside a message header")
                return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > self.limit:
            raise MessageTooLarge(size, self.limit)
        end = HEADER.size + size
        while len(self.buffer) < end:
            if not self._fill(deadline):
                raise WireError("channel closed inside a message")
        data = bytes(self.buffer[HEADER.size : end])
        del self.buffer[:end]
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise WireError(f"malformed message: {exc}") from None
        if not isinstance(message, dict):
            raise WireError("a message is a JSON object")
        return message
