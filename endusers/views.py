"""REST edges of end-user auth: parse, call one service, render."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.views import ApiView
from endusers import keys

OBJECT = OpenApiTypes.OBJECT
JWKS_MAX_AGE = 300


class JwksView(ApiView):
    """Public keys for verifying the project's access tokens offline; no key needed."""

    @extend_schema(responses=OBJECT, summary="The project's token verification keys (JWKS)", operation_id="auth_jwks", auth=[])
    def get(self, request: Request, project_id: str) -> Response:
        document = keys.jwks_document(project_id=project_id)
        # Verifiers cache this; a token with a new kid sends them back for a fresh copy.
        return Response(document, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})
