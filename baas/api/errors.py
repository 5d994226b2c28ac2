"""One error hierarchy, rendered in one shape everywhere.

Services raise ``ApplicationError`` subclasses; the DRF exception handler, the Django
error views, the ASGI body-limit guard, the WebSocket consumer and the functions runtime
all turn them into ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger("baas.errors")


class ApplicationError(Exception):
    code = "internal"
    status = 500
    default_message = "Internal error."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)

    def headers(self) -> dict[str, str]:
        return {}


class InvalidArgument(ApplicationError):
    code, status, default_message = "invalid_argument", 400, "Invalid argument."


class Unauthenticated(ApplicationError):
    code, status, default_message = "unauthenticated", 401, "Missing or invalid credentials."


class PermissionDenied(ApplicationError):
    code, status, default_message = "permission_denied", 403, "Permission denied."


class NotFound(ApplicationError):
    code, status, default_message = "not_found", 404, "Not found."


class MethodNotAllowed(ApplicationError):
    code, status, default_message = "method_not_allowed", 405, "Method not allowed."


class AlreadyExists(ApplicationError):
    code, status, default_message = "already_exists", 409, "Already exists."


class Aborted(ApplicationError):
    code, status, default_message = "aborted", 409, "Aborted by a concurrent change; retry."


class FailedPrecondition(ApplicationError):
    code, status, default_message = "failed_precondition", 412, "Precondition failed."


class PayloadTooLarge(ApplicationError):
    code, status, default_message = "payload_too_large", 413, "Request body too large."


class UnsupportedMediaType(ApplicationError):
    code, status, default_message = "unsupported_media_type", 415, "Unsupported media type."


class FunctionError(ApplicationError):
    code, status, default_message = "function_error", 422, "The function raised an error."


class ResourceExhausted(ApplicationError):
    code, status, default_message = "resource_exhausted", 429, "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, details: dict[str, Any] | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, details={"retryAfterSeconds": self.retry_after, **(details or {})})

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Internal(ApplicationError):
    pass


class Unavailable(ApplicationError):
    code, status, default_message = "unavailable", 503, "Service unavailable."


class DeadlineExceeded(ApplicationError):
    code, status, default_message = "deadline_exceeded", 504, "Deadline exceeded."


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {"fields": {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}}
    if isinstance(detail, list):
        return {"errors": [str(m) for m in detail]}
    return {}


def to_application_error(exc: BaseException) -> ApplicationError | None:
    """Map any exception the stack can raise to our hierarchy; None for real bugs."""
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied()
    if isinstance(exc, drf_exceptions.Throttled):
        return ResourceExhausted(retry_after=int(exc.wait or 1))
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return Unauthenticated(str(exc.detail))
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return PermissionDenied(str(exc.detail))
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return InvalidArgument(str(exc.detail))
    if isinstance(exc, drf_exceptions.ParseError):
        return InvalidArgument(str(exc.detail))
    if isinstance(exc, drf_exceptions.ValidationError):
        return InvalidArgument("Invalid request.", details=_validation_details(exc.detail))
    if isinstance(exc, drf_exceptions.APIException):
        error = ApplicationError(str(exc.detail))
        error.status = exc.status_code
        error.code = "invalid_argument" if 400 <= exc.status_code < 500 else "internal"
        return error
    if isinstance(exc, SuspiciousOperation):
        return InvalidArgument("Bad request.")
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's hook: every exception in an API view leaves in the spec's shape."""
    error = to_application_error(exc)
    if error is None:
        logger.exception("unhandled error in API view", exc_info=exc)
        error = Internal()
    return Response(error.as_dict(), status=error.status, headers=error.headers())
