"""Request id, access metrics and the JSON 500 for everything outside DRF."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Callable

from django.http import HttpRequest, HttpResponse

from baas.logging import request_id_var
from baas.metrics import http_latency, http_requests
from projects.usage import usage_request

logger = logging.getLogger("baas.request")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        elapsed = time.perf_counter() - started
        response["X-Request-Id"] = request_id
        http_requests.labels(request.method, str(response.status_code)).inc()
        if request.path.startswith("/v1/projects/"):
            match = request.resolver_match
            usage_request(match.kwargs.get("project_id", "") if match else "", response.status_code)
        http_latency.observe(elapsed)
        return response
