"""Functions API (DRF). Managing functions needs a secret key; calling one needs any key
of the project, and passes the signed-in end user's auth to the function."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.inputs import body_object, path_int
from baas.api.schema import json_body, responses
from baas.api.views import ProjectApiView
from functions import schemas as s
from functions import selectors, services


class FunctionsView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.FUNCTION_LIST}, 403),
        summary="List functions",
        operation_id="functions_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"functions": selectors.functions_list(ctx=self.ctx_of(request))})

    @extend_schema(
        request=json_body(s.DEPLOY),
        responses=responses({201: s.FUNCTION}, 400, 403, 413, 415),
        operation_id="functions_deploy",
        summary="Deploy a function (the next version of its name)",
        description="Body: {name, source | files, entrypoint ('module:function', default 'main:handler'), "
        "triggers?, timeoutSeconds (default 10, max 540), memoryMb (default 256), env, secrets, retry}. "
        "Without triggers, the entrypoint's decorators declare them. A source that does not import is a 400 "
        "with details.traceback, and the previous version keeps serving.",
    )
    def post(self, request: Request, project_id: str) -> Response:
        ctx = self.ctx_of(request)
        version = services.function_deploy(ctx=ctx, data=body_object(request))
        return Response(selectors.function_get(ctx=ctx, name=version.function.name), status=201)


class FunctionsDiscoverView(ProjectApiView):
    @extend_schema(
        request=json_body(s.DISCOVER_REQUEST),
        responses=responses({200: s.DISCOVERED}, 400, 403, 413, 415),
        operation_id="functions_discover",
        summary="List the decorated functions of a source, without deploying",
    )
    def post(self, request: Request, project_id: str) -> Response:
        services.require_writer(self.ctx_of(request))
        files = services.files_check(body_object(request))
        return Response({"functions": services.functions_discover(files=files)})


class FunctionView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.FUNCTION}, 403, 404),
        summary="Get a function (its active version)",
        operation_id="function_get",
    )
    def get(self, request: Request, project_id: str, name: str) -> Response:
        return Response(selectors.function_get(ctx=self.ctx_of(request), name=name))

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Delete a function, its versions and executions",
        operation_id="function_delete",
    )
    def delete(self, request: Request, project_id: str, name: str) -> Response:
        services.function_delete(ctx=self.ctx_of(request), name=name)
        return Response(status=204)


class VersionsView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.VERSION_LIST}, 403, 404),
        summary="List a function's versions",
        operation_id="function_versions",
    )
    def get(self, request: Request, project_id: str, name: str) -> Response:
        return Response({"versions": selectors.versions_list(ctx=self.ctx_of(request), name=name)})


class VersionView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.VERSION}, 400, 403, 404),
        summary="Get one version with its source",
        operation_id="function_version_get",
    )
    def get(self, request: Request, project_id: str, name: str, version: str) -> Response:
        number = path_int(version, "version")
        return Response(selectors.version_get(ctx=self.ctx_of(request), name=name, version=number))


class RollbackView(ProjectApiView):
    @extend_schema(
        request=json_body(s.ROLLBACK),
        responses=responses({200: s.FUNCTION}, 400, 403, 404, 415),
        summary="Make an earlier version the active one",
        operation_id="function_rollback",
    )
    def post(self, request: Request, project_id: str, name: str) -> Response:
        ctx = self.ctx_of(request)
        services.function_rollback(ctx=ctx, name=name, data=body_object(request))
        return Response(selectors.function_get(ctx=ctx, name=name))


class ExecutionsView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.EXECUTION_LIST}, 400, 403, 404),
        parameters=s.EXECUTIONS_PARAMETERS,
        summary="List executions, newest first",
        operation_id="function_executions",
    )
    def get(self, request: Request, project_id: str, name: str) -> Response:
        limit = path_int(request.query_params.get("limit", selectors.PAGE_SIZE), "limit")
        return Response(
            selectors.executions_list(
                ctx=self.ctx_of(request), name=name, status=request.query_params.get("status"),
                cursor=request.query_params.get("cursor"), limit=limit,
            )
        )


class ExecutionView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.EXECUTION}, 403, 404),
        summary="Get an execution with its logs",
        operation_id="function_execution_get",
    )
    def get(self, request: Request, project_id: str, name: str, execution_id: str) -> Response:
        return Response(selectors.execution_get(ctx=self.ctx_of(request), name=name, execution_id=execution_id))


class ExecutionReplayView(ProjectApiView):
    @extend_schema(
        request=None,
        responses=responses({202: s.EXECUTION}, 403, 404, 412),
        summary="Run a finished event execution again",
        operation_id="function_execution_replay",
    )
    def post(self, request: Request, project_id: str, name: str, execution_id: str) -> Response:
        ctx = self.ctx_of(request)
        execution = services.execution_replay(ctx=ctx, name=name, execution_id=execution_id)
        return Response(selectors.execution_get(ctx=ctx, name=name, execution_id=execution.id), status=202)
