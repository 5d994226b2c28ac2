"""The rules playground endpoint on the HTTP edge."""

from __future__ import annotations

from baas.api.edge import EdgeRequest, EdgeResponse, Route
from projects.documents.schemas import OPERATIONS
from projects.rules.services import rules_test


def rules_test_view(request: EdgeRequest) -> EdgeResponse:
    """Evaluate a rule with a given auth, resource and request (secret key)."""
    assert request.ctx is not None
    return EdgeResponse(200, rules_test(ctx=request.ctx, body=request.json_object()))


ROUTES = [Route("v1/projects/<project_id>/rules:test", {"POST": rules_test_view}, secret_only=True, read_only=True,
                openapi={"POST": OPERATIONS["rules_test_view"]})]
