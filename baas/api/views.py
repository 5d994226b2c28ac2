"""Base views: thin edges that parse, authenticate once, and call one service."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.views import APIView

from baas.api.authentication import authenticate_project_request, client_ip
from baas.api.context import RequestContext
from baas.api.errors import PermissionDenied, ResourceExhausted
from baas.api.parsers import nul_check, read_limited
from baas.api.ratelimit import Limit, rate_limit_hits
from baas.metrics import rate_limited

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def apply_rate_limits(*, ip: str, caller: str | None) -> None:
    """Per IP and per caller, counted together in one round trip."""
    limits = [Limit(f"ip:{ip}", settings.BAAS_RATE_LIMIT_PER_IP)]
    if caller is not None:
        limits.append(Limit(caller, settings.BAAS_RATE_LIMIT_PER_KEY))
    try:
        rate_limit_hits(limits)
    except ResourceExhausted as error:
        rate_limited.labels(error.details.get("scope", "ip")).inc()
        raise


def _buffer_chunked_body(request: Request) -> None:
    """A chunked body has no Content-Length, and DRF would silently ignore it: read it
    here, within the size limit, so it is parsed like any other body."""
    django_request = request._request
    meta = django_request.META
    if meta.get("CONTENT_LENGTH") or "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    body = read_limited(django_request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    django_request._stream = io.BytesIO(body)
    django_request._read_started = False
    meta["CONTENT_LENGTH"] = str(len(body))


class ApiView(APIView):
    """Every API view: rate limited per IP; no session auth, no CSRF (keys are not cookies)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        for name, value in kwargs.items():
            if isinstance(value, str):
                nul_check(value, name)
        for name, value in request.query_params.items():
            nul_check(value, name)
        self.authenticate_and_limit(request, **kwargs)
        _buffer_chunked_body(request)

    def authenticate_and_limit(self, request: Request, **kwargs: Any) -> None:
        apply_rate_limits(ip=client_ip(request.META), caller=None)


class ProjectApiView(ApiView):
    """A call on ``/v1/projects/{project_id}/…``; sets ``request.ctx``.

    ``secret_only`` views refuse publishable keys with 403 (the key is valid, the power
    is missing).
    """

    secret_only = False

    def authenticate_and_limit(self, request: Request, **kwargs: Any) -> None:
        ip = client_ip(request.META)
        try:
            ctx = authenticate_project_request(
                project_id=kwargs["project_id"],
                api_key=request.headers.get("X-Api-Key"),
                authorization=self.authorization_of(request),
                safe_method=request.method in SAFE_METHODS,
            )
        except Exception:
            apply_rate_limits(ip=ip, caller=None)  # failed attempts count against the IP
            raise
        caller = f"key:{ctx.key_id}" if ctx.key_id is not None else f"user:{ctx.console_user_id}"
        apply_rate_limits(ip=ip, caller=caller)
        if self.secret_only and not ctx.is_privileged:
            raise PermissionDenied("This call needs a secret key.")
        request.ctx = ctx

    def authorization_of(self, request: Request) -> str | None:
        """The Authorization header this view authenticates with (a view that must work
        with an expired end-user token, such as a token refresh, can leave it out)."""
        return request.headers.get("Authorization")

    @staticmethod
    def ctx_of(request: Request) -> RequestContext:
        return request.ctx  # type: ignore[no-any-return]
