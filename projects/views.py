"""REST edges of tenancy: projects, API keys and members."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.authentication import bearer_token, console_user_for_token, require_role
from baas.api.errors import Unauthenticated
from baas.api.inputs import body_object, field_str
from baas.api.schema import json_body, responses
from baas.api.views import ApiView, ProjectApiView
from projects import schemas as s
from projects import selectors, services
from projects.models import Role
from projects.services import PAT_PREFIX


def _console_user_id(request: Request) -> int:
    token = bearer_token(request.headers.get("Authorization"))
    if not token or not token.startswith(PAT_PREFIX):
        raise Unauthenticated("Send a personal access token: 'Authorization: Bearer pat_…'.")
    return console_user_for_token(token)


class ProjectsView(ApiView):
    """Console users manage their projects with a personal access token."""

    @extend_schema(
        responses=responses({200: s.PROJECT_LIST}, 403),
        summary="List the caller's projects",
        operation_id="projects_list",
    )
    def get(self, request: Request) -> Response:
        user_id = _console_user_id(request)
        projects = selectors.projects_of_user(user_id=user_id)
        return Response({"projects": [selectors.project_json(p) for p in projects]})

    @extend_schema(
        request=json_body(s.PROJECT_CREATE),
        responses=responses({201: s.PROJECT_CREATED}, 400, 403, 409, 415),
        summary="Create a project",
        operation_id="projects_create",
    )
    def post(self, request: Request) -> Response:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(pk=_console_user_id(request))
        data = body_object(request)
        created = services.project_create(
            project_id=field_str(data, "projectId", max_length=40),
            name=field_str(data, "name", required=False),
            owner=user,
        )
        return Response(
            {
                **selectors.project_json(created.project),
                "publishableKey": created.publishable_key,
                "secretKey": created.secret_key,
            },
            status=201,
        )


class ProjectView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.PROJECT}, 403, 404),
        summary="The project the key belongs to",
        operation_id="project_get",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response(selectors.project_json(selectors.project_get(project_id=project_id)))


class ApiKeysView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.API_KEY_LIST}, 403),
        summary="List API keys (never their values)",
        operation_id="keys_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        require_role(self.ctx_of(request), Role.ADMIN)
        project = selectors.project_get(project_id=project_id)
        return Response({"keys": [selectors.api_key_json(k) for k in selectors.api_keys_list(project=project)]})

    @extend_schema(
        request=json_body(s.API_KEY_CREATE),
        responses=responses({201: s.API_KEY_CREATED}, 400, 403, 415),
        summary="Create an API key; its value is shown once",
        operation_id="keys_create",
    )
    def post(self, request: Request, project_id: str) -> Response:
        require_role(self.ctx_of(request), Role.ADMIN)
        data = body_object(request)
        project = selectors.project_get(project_id=project_id)
        key, plain = services.api_key_create(
            project=project,
            kind=field_str(data, "kind", max_length=20),
            name=field_str(data, "name", required=False, max_length=100),
        )
        return Response({**selectors.api_key_json(key), "key": plain}, status=201)


class ApiKeyView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Revoke an API key",
        operation_id="keys_revoke",
    )
    def delete(self, request: Request, project_id: str, key_id: int) -> Response:
        require_role(self.ctx_of(request), Role.ADMIN)
        services.api_key_revoke(project=selectors.project_get(project_id=project_id), key_id=key_id)
        return Response(status=204)


class ApiKeyRotateView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=None,
        responses=responses({201: s.API_KEY_CREATED}, 403, 404),
        summary="Replace a key with a new one",
        operation_id="keys_rotate",
    )
    def post(self, request: Request, project_id: str, key_id: int) -> Response:
        require_role(self.ctx_of(request), Role.ADMIN)
        key, plain = services.api_key_rotate(project=selectors.project_get(project_id=project_id), key_id=key_id)
        return Response({**selectors.api_key_json(key), "key": plain}, status=201)


class MembersView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.MEMBER_LIST}, 403),
        summary="List console members and their roles",
        operation_id="members_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        project = selectors.project_get(project_id=project_id)
        return Response({"members": [selectors.member_json(m) for m in selectors.members_list(project=project)]})

    @extend_schema(
        request=json_body(s.MEMBER_SET),
        responses=responses({200: s.MEMBER}, 400, 403, 404, 415),
        summary="Add a console user or change their role",
        operation_id="members_set",
    )
    def post(self, request: Request, project_id: str) -> Response:
        ctx = self.ctx_of(request)
        require_role(ctx, Role.ADMIN)
        data: dict[str, Any] = body_object(request)
        role = field_str(data, "role", max_length=16)
        if role == Role.OWNER:
            require_role(ctx, Role.OWNER)
        user = selectors.user_by_email(email=field_str(data, "email", max_length=254))
        membership = services.membership_set(
            project=selectors.project_get(project_id=project_id), user=user, role=role
        )
        return Response(selectors.member_json(membership))
