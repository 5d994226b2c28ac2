"""Reads on tenancy, each scoped by the caller's project or user."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from baas.api.errors import NotFound
from baas.api.formats import rfc3339
from projects.models import ApiKey, Membership, Project


def project_get(*, project_id: str) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFound("Project not found.")
    return project


def projects_of_user(*, user_id: int) -> list[Project]:
    return list(Project.objects.filter(memberships__user_id=user_id).order_by("id"))


def api_keys_list(*, project: Project) -> list[ApiKey]:
    return list(ApiKey.objects.for_project(project).order_by("id"))


def members_list(*, project: Project) -> list[Membership]:
    return list(Membership.objects.for_project(project).select_related("user").order_by("id"))


def user_by_email(*, email: str) -> Any:
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is None:
        raise NotFound("No console user with that email.")
    return user


def project_json(project: Project) -> dict[str, Any]:
    return {"projectId": project.id, "name": project.name, "createTime": rfc3339(project.created_at)}


def api_key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.pk,
        "kind": key.kind,
        "name": key.name,
        "prefix": key.display_prefix,
        "createTime": rfc3339(key.created_at),
        "lastUsedTime": rfc3339(key.last_used_at),
        "revokeTime": rfc3339(key.revoked_at),
        "active": key.is_active,
    }


def member_json(membership: Membership) -> dict[str, Any]:
    return {
        "userId": membership.user_id,
        "email": membership.user.email,
        "role": membership.role,
        "createTime": rfc3339(membership.created_at),
    }
