"""Django's own error views, answering in the API's error shape."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse

from baas.api.errors import InvalidArgument, NotFound, PermissionDenied, error_body

logger = logging.getLogger("baas.errors")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(InvalidArgument("Bad request.").as_dict(), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(PermissionDenied().as_dict(), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(NotFound(f"No route for {request.path}.").as_dict(), status=404)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("internal", "Internal error."), status=500)
