"""Typed exceptions carrying the API's error codes.

Every error the API returns has the shape ``{"error": {"code", "message", "details"}}``;
each code maps to one exception class, so callers catch what they mean
(``except NotFound``) and still see the status, details and request id.
"""

from __future__ import annotations

from typing import Any


class BaasError(Exception):
    """An error answered by the API (or, for ``TransportError``, no answer at all)."""

    code = "unknown"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None, request_id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.headers: dict[str, str] = headers or {}

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"


class InvalidArgument(BaasError):
    code = "invalid_argument"


class Unauthenticated(BaasError):
    code = "unauthenticated"


class PermissionDenied(BaasError):
    code = "permission_denied"


class NotFound(BaasError):
    code = "not_found"


class MethodNotAllowed(BaasError):
    code = "method_not_allowed"


class AlreadyExists(BaasError):
    code = "already_exists"


class Aborted(BaasError):
    code = "aborted"


class FailedPrecondition(BaasError):
    code = "failed_precondition"


class PayloadTooLarge(BaasError):
    code = "payload_too_large"


class UnsupportedMediaType(BaasError):
    code = "unsupported_media_type"


class RangeNotSatisfiable(BaasError):
    code = "range_not_satisfiable"


class FunctionError(BaasError):
    """A cloud function raised; ``details`` carries what the function reported."""

    code = "function_error"


class ResourceExhausted(BaasError):
    """A rate limit (or a realtime limit); ``retry_after`` is in seconds when the API said."""

    code = "resource_exhausted"

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retryAfterSeconds", self.headers.get("retry-after"))
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class Internal(BaasError):
    code = "internal"


class Unavailable(BaasError):
    code = "unavailable"


class DeadlineExceeded(BaasError):
    code = "deadline_exceeded"


class ResumeExpired(BaasError):
    """Realtime: the change log no longer holds the position a subscription resumes from."""

    code = "resume_expired"


class TransportError(BaasError):
    """The request never got an answer (connection refused, reset, timed out)."""

    code = "transport_error"


ERRORS_BY_CODE: dict[str, type[BaasError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, Unauthenticated, PermissionDenied, NotFound, MethodNotAllowed, AlreadyExists, Aborted,
        FailedPrecondition, PayloadTooLarge, UnsupportedMediaType, RangeNotSatisfiable, FunctionError,
        ResourceExhausted, Internal, Unavailable, DeadlineExceeded, ResumeExpired,
    )
}

_CODES_BY_STATUS = {
    400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 409: "already_exists", 412: "failed_precondition", 413: "payload_too_large",
    415: "unsupported_media_type", 416: "range_not_satisfiable", 422: "function_error",
    429: "resource_exhausted", 500: "internal", 503: "unavailable", 504: "deadline_exceeded",
}


def error_from(status: int | None, body: Any, *, headers: dict[str, str] | None = None,
               request_id: str | None = None) -> BaasError:
    """The exception for an error answer: by the body's code, else by the HTTP status."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message") or code)
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
    else:
        code = _CODES_BY_STATUS.get(status or 0, "unknown")
        message = f"HTTP {status}"
        details = {}
    cls = ERRORS_BY_CODE.get(code, BaasError)
    return cls(message, status=status, code=code, details=details, request_id=request_id, headers=headers)
