"""The realtime socket at the frame level, on a raw TCP socket under both servers.

Events may be written to the transport as prepared frames (realtime/frames.py), so the
bytes on the wire are checked here against RFC 6455 by hand: server frames unmasked and
final, the three length encodings, and the server still handling a fragmented and masked
client message, ping/pong and the close handshake with its codes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.realtime.client import Http

P = "alpha-app"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawSocket:
    """A WebSocket client that shows every frame as it arrived."""

    def __init__(self, server: Any, api_key: str) -> None:
        port = urlsplit(server.url).port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /v1/projects/{P}/realtime?apiKey={api_key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split(" ", 2)[1] == "101", lines[0]
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        assert headers["sec-websocket-accept"] == accept
        self.extensions = headers.get("sec-websocket-extensions")

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buffer += chunk

    def _need(self, count: int) -> None:
        while len(self.buffer) < count:
            self._read()

    def frame(self) -> tuple[int, int, bool, bytes, int]:
        """(fin+rsv bits, opcode, masked, payload, length form: 7, 16 or 64 bits)."""
        self._need(2)
        first, second = self.buffer[0], self.buffer[1]
        length, offset, form = second & 0x7F, 2, 7
        if length == 126:
            self._need(4)
            length, offset, form = struct.unpack_from("!H", self.buffer, 2)[0], 4, 16
        elif length == 127:
            self._need(10)
            length, offset, form = struct.unpack_from("!Q", self.buffer, 2)[0], 10, 64
        masked = bool(second & 0x80)
        if masked:
            offset += 4
        self._need(offset + length)
        payload = self.buffer[offset : offset + length]
        self.buffer = self.buffer[offset + length :]
        return first & 0xF0, first & 0x0F, masked, payload, form

    def message(self) -> dict[str, Any]:
        """The next text message; every frame must be one complete, unmasked, plain text frame."""
        bits, opcode, masked, payload, _ = self.frame()
        assert (bits, opcode, masked) == (0x80, 0x1, False)
        return json.loads(payload)  # type: ignore[no-any-return]

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", (0x80 if fin else 0) | opcode, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", (0x80 if fin else 0) | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", (0x80 if fin else 0) | opcode, 0x80 | 127, size)
        self.sock.sendall(header + mask + masked)

    def send_json(self, message: dict[str, Any]) -> None:
        self.send_frame(0x1, json.dumps(message).encode())


@pytest.fixture(params=["uvicorn", "daphne"])
def server(request: Any, asgi_server_factory: Any) -> Any:
    return asgi_server_factory(f"frames-{request.param}", BAAS_ASGI_SERVER=request.param)


def test_frames_on_the_wire(server: Any, project: Any) -> None:
    admin = Http(server.url, P, project.secret_key)
    assert admin.put("/collections/wire", {"rules": {"read": "true"}}).status_code == 200
    raw = RawSocket(server, project.publishable_key)
    assert raw.extensions is None  # no per-message deflate: every frame is plain

    # A masked client message in three fragments, a ping between them (control frames may
    # interleave): the server answers the ping at once and reads the message whole.
    auth = b'{"type":"auth","token":null}'
    raw.send_frame(0x1, auth[:5], fin=False)
    raw.send_frame(0x9, b"are you there")
    raw.send_frame(0x0, auth[5:12], fin=False)
    raw.send_frame(0x0, auth[12:])
    assert raw.frame() == (0x80, 0xA, False, b"are you there", 7)
    assert raw.message() == {"type": "authenticated", "uid": None}

    raw.send_json({"type": "subscribe", "id": "w", "collection": "wire"})
    bits, opcode, masked, payload, form = raw.frame()
    assert (bits, opcode, masked, form) == (0x80, 0x1, False, 7)  # a short message: 7-bit length
    assert json.loads(payload)["type"] == "subscribed"
    sizes = {"medium": 1_000, "large": 70_000}  # 16-bit and 64-bit lengths
    for doc_id, size in sizes.items():
        response = admin.put(f"/collections/wire/documents/{doc_id}", {"data": {"text": "é" * size}})
        assert response.status_code in (200, 201), response.text
    forms, seqs = [], []
    for doc_id, size in sizes.items():
        bits, opcode, masked, payload, form = raw.frame()
        assert (bits, opcode, masked) == (0x80, 0x1, False)
        event = json.loads(payload.decode("utf-8"))
        assert (event["type"], event["change"], event["doc"]["id"]) == ("change", "added", doc_id)
        assert event["doc"]["data"] == {"text": "é" * size}
        forms.append(form)
        seqs.append(event["seq"])
    assert forms == [16, 64]
    assert seqs[1] == seqs[0] + 1

    # The close handshake: our code is echoed, then the server ends the TCP connection.
    raw.send_frame(0x8, struct.pack("!H", 1000) + b"bye")
    bits, opcode, masked, payload, _ = raw.frame()
    assert (bits, opcode, masked) == (0x80, 0x8, False)
    assert struct.unpack("!H", payload[:2])[0] == 1000
    deadline = time.monotonic() + 10
    with pytest.raises(EOFError):
        while time.monotonic() < deadline:
            raw._read()


def test_server_close_codes_on_the_wire(server: Any, project: Any, other_project: Any) -> None:
    raw = RawSocket(server, other_project.publishable_key)  # another project's key
    error = raw.message()
    assert (error["type"], error["code"]) == ("error", "unauthenticated")
    bits, opcode, masked, payload, _ = raw.frame()
    assert (bits, opcode, masked) == (0x80, 0x8, False)
    assert struct.unpack("!H", payload[:2])[0] == 4401


def test_a_protocol_violation_closes_with_1002(asgi_server_factory: Any, project: Any) -> None:
    """Under uvicorn, where events skip its framing, it still polices the client's frames.
    (Daphne drops such a connection without a close frame.)"""
    raw = RawSocket(asgi_server_factory("violation"), project.publishable_key)
    raw.send_json({"type": "auth", "token": None})
    assert raw.message()["type"] == "authenticated"
    raw.send_frame(0x0, b"a continuation with nothing to continue")
    bits, opcode, masked, payload, _ = raw.frame()
    assert (opcode, masked) == (0x8, False)
    assert struct.unpack("!H", payload[:2])[0] == 1002


def test_a_burst_arrives_as_whole_frames_in_order(server: Any, project: Any) -> None:
    """A batch is one round: its events for one socket may leave in a single write, still
    as separate, complete frames, in seq order, once each."""
    admin = Http(server.url, P, project.secret_key)
    assert admin.put("/collections/burst", {"rules": {"read": "true"}}).status_code == 200
    raw = RawSocket(server, project.publishable_key)
    raw.send_json({"type": "auth", "token": None})
    assert raw.message()["type"] == "authenticated"
    raw.send_json({"type": "subscribe", "id": "b", "collection": "burst"})
    start = raw.message()["seq"]
    writes = [{"op": "set", "collection": "burst", "id": f"d{n:02}", "data": {"n": n}} for n in range(40)]
    response = admin.post("/batch", {"writes": writes})
    assert response.status_code == 200, response.text
    events = [raw.message() for _ in range(40)]
    assert [event["seq"] for event in events] == list(range(start + 1, start + 41))
    assert [event["doc"]["data"]["n"] for event in events] == list(range(40))
    assert {event["change"] for event in events} == {"added"}
    raw.send_json({"type": "ping"})
    assert raw.message() == {"type": "pong"}  # nothing else was sent in between
