"""Calling a function, on the HTTP edge: a call is on the hot path of apps, and Django's
request cycle would add milliseconds to every one."""

from __future__ import annotations

from baas.api.edge import EdgeRequest, EdgeResponse, Route
from baas.api.errors import InvalidArgument
from functions import schemas, services


def function_call(request: EdgeRequest) -> EdgeResponse:
    """Call a function with an http trigger and wait for its result.

    Body {"data": any}, answer {"result"}; 422 function_error when the function raised,
    504 deadline_exceeded past its timeout, 412 when it has no http trigger."""
    assert request.ctx is not None
    body = request.json_object()
    unknown = sorted(set(body) - {"data"})
    if unknown:
        raise InvalidArgument("The body is {\"data\": ...}.", details={"field": unknown[0]})
    result = services.function_call(ctx=request.ctx, name=request.params["name"], data=body.get("data"))
    return EdgeResponse(200, {"result": result})


CALL_OPERATION = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": schemas.CALL}}},
    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schemas.CALL_RESULT}}}},
    "errors": (400, 403, 404, 412, 413, 415, 422, 504),
}

# A call holds its thread until the function answers: it waits on a pool of its own.
ROUTES = [
    Route("v1/projects/<project_id>/functions/<name>:call", {"POST": function_call}, waits=True, openapi={"POST": CALL_OPERATION})
]
