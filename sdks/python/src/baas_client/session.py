"""Sessions of a signed-in end user and where they are kept between runs.

A store is anything with ``load() -> dict | None`` and ``save(dict | None)``: the SDK
saves the session after every sign-in and refresh and clears it on sign-out, so a script
or service restarted later resumes the same session (``FileTokenStore``), or keeps it
only in memory (``MemoryTokenStore``, the default).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class TokenStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, session: dict[str, Any] | None) -> None: ...


class MemoryTokenStore:
    """Keeps the session in this process only."""

    def __init__(self) -> None:
        self._session: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return self._session

    def save(self, session: dict[str, Any] | None) -> None:
        self._session = session


class FileTokenStore:
    """Keeps the session in a JSON file readable by its owner only (mode 0600), replaced
    atomically so a crash never leaves half a file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, session: dict[str, Any] | None) -> None:
        if session is None:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".baas-session-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(session, handle)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


@dataclass
class Session:
    """Tokens of the signed-in user; ``expires_at`` is a Unix time taken from ``expiresIn``."""

    access_token: str
    refresh_token: str
    expires_at: float
    user: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> Session:
        return cls(
            access_token=body["accessToken"],
            refresh_token=body["refreshToken"],
            expires_at=time.time() + float(body.get("expiresIn") or 0),
            user=body.get("user") or {},
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session | None:
        try:
            return cls(str(data["accessToken"]), str(data["refreshToken"]), float(data["expiresAt"]), data.get("user") or {})
        except (KeyError, TypeError, ValueError):
            return None

    def to_dict(self) -> dict[str, Any]:
        return {"accessToken": self.access_token, "refreshToken": self.refresh_token,
                "expiresAt": self.expires_at, "user": self.user}

    @property
    def uid(self) -> str | None:
        return self.user.get("uid")


TokenListener = Callable[[Session | None], None]


class AuthState:
    """The current session, shared by the HTTP transport and the realtime connection.

    Listeners hear every change (sign-in, refresh, sign-out); the realtime connection uses
    that to send the new token on its socket at once.
    """

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._listeners: list[TokenListener] = []
        loaded = store.load()
        self.session: Session | None = Session.from_dict(loaded) if loaded else None

    def set(self, session: Session | None) -> None:
        with self._lock:
            self.session = session
            listeners = list(self._listeners)
        self.store.save(session.to_dict() if session else None)
        for listener in listeners:
            listener(session)

    def set_user(self, user: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.user = user
            self.store.save(self.session.to_dict())

    def listen(self, listener: TokenListener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove
