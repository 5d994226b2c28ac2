"""WebSocket frames built once and written to many sockets.

Fan-out sends the same event text to every subscriber whose subscription id, change kind
and visible document agree. Going through the ASGI ``websocket.send`` message, the server
frames that text again for every socket. When the server is uvicorn's sans-I/O WebSocket
protocol with no extension negotiated (no per-message deflate), a server-to-client text
frame is the same bytes on every socket, so the frame is built once (by ``websockets``)
and written to each socket's transport as it is. The server keeps everything else:
the handshake, reading and unmasking client frames (fragmented or not), ping/pong, the
close handshake and its codes. Under any other server, or when the socket cannot take a
write now (closing, or its transport has paused writing), the ASGI path is used.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame (the form a server sends)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class Prepared:
    """An outgoing message: its JSON text, and its frame bytes once somebody needs them."""

    __slots__ = ("text", "_frame")

    def __init__(self, text: str) -> None:
        self.text = text
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame


class DirectSocket:
    """The transport under one accepted uvicorn WebSocket, for writing prepared frames."""

    __slots__ = ("protocol", "conn", "transport", "writable")

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.conn = protocol.conn
        self.transport = protocol.transport
        self.writable = protocol.writable

    @classmethod
    def behind(cls, send: Any) -> DirectSocket | None:
        """The socket behind an ASGI ``send``, if frames may be written to it directly.

        Call after ``websocket.accept``: extensions are settled by the handshake."""
        protocol = getattr(send, "__self__", None)
        if type(protocol).__name__ != "WebSocketsSansIOProtocol" or not type(protocol).__module__.startswith("uvicorn."):
            return None
        conn = getattr(protocol, "conn", None)
        if (
            conn is None
            or getattr(conn, "extensions", None)  # a deflated frame is per connection
            or not getattr(protocol, "handshake_complete", False)
            or not hasattr(protocol, "writable")
            or not hasattr(protocol, "close_sent")
            or not hasattr(protocol, "disconnected")
            or getattr(protocol, "transport", None) is None
        ):
            return None
        return cls(protocol)

    def ready(self) -> bool:
        """Open and not pushing back: a write now goes out in order, without waiting."""
        protocol = self.protocol
        return (
            self.writable.is_set()
            and not protocol.close_sent
            and not protocol.disconnected
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        )

    def write(self, data: bytes) -> bool:
        """Write frames now if the socket is ready; else False (and nothing written)."""
        if not self.ready():
            return False
        self.transport.write(data)
        return True
