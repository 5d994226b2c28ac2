"""The request context every service and selector takes first (``ctx``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Origin = Literal["rest", "ws", "function", "console", "cli"]
KeyKindName = Literal["publishable", "secret"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is acting on which project, built once per entry point.

    ``key_kind`` is "secret" for secret keys and for console members allowed to write;
    ``auth`` holds the signed-in end user (``{"uid", "token": {...}}``) or None.
    """

    project_id: str
    key_kind: KeyKindName | None
    origin: Origin = "rest"
    key_id: int | None = None
    console_user_id: int | None = None
    role: str | None = None
    auth: dict[str, Any] | None = field(default=None)

    @property
    def is_privileged(self) -> bool:
        """Secret-key power: bypasses rules."""
        return self.key_kind == "secret"
