"""Console fixtures: a member of ``project`` per role, and an owner of ``other_project``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

ROLES = ("owner", "admin", "developer", "viewer")


@pytest.fixture(autouse=True)
def _cheap_passwords(settings: Any) -> None:
    """Password hashing is not under test here: many users are made per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.BAAS_AUTH_ARGON2_MEMORY_KIB = 1024
    settings.BAAS_AUTH_ARGON2_TIME_COST = 1


@pytest.fixture(autouse=True)
def _forget_usage() -> Any:
    from projects import usage

    usage.local_clear()
    yield
    usage.local_clear()


@pytest.fixture
def members(project: Any, other_project: Any) -> dict[str, Any]:
    """{"owner": user, ..., "outsider": the owner of other_project only}."""
    from django.contrib.auth import get_user_model

    from projects.services import membership_set

    User = get_user_model()
    users: dict[str, Any] = {}
    for role in ROLES:
        user = User.objects.create_user(username=f"{role}@example.com", email=f"{role}@example.com", password="x-Long-pass-42")
        membership_set(project=project.project, user=user, role=role)
        users[role] = user
    outsider = User.objects.create_user(username="out@example.com", email="out@example.com", password="x-Long-pass-42")
    membership_set(project=other_project.project, user=outsider, role="owner")
    users["outsider"] = outsider
    return users


@pytest.fixture
def as_user() -> Any:
    """``as_user(user)``: a test client signed in as ``user``, CSRF checks on."""

    def make(user: Any) -> Client:
        client = Client(enforce_csrf_checks=False)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def seeded(project: Any, members: dict[str, Any]) -> dict[str, Any]:
    """Something of everything in ``project``: collection ``posts`` with ``d1``, end user
    ``u1``, bucket ``files`` with ``docs/a.txt``."""
    import io

    from baas.api.context import RequestContext
    from endusers.services import user_create
    from projects.documents.config import collection_config_set
    from projects.documents.services import document_set
    from storage import services as storage_services

    ctx = RequestContext(project_id=project.project.id, key_kind="secret", origin="console")
    collection_config_set(ctx=ctx, name="posts", schema=None, rules={"read": "auth != null"}, indexes=[])
    document_set(ctx=ctx, collection="posts", doc_id="d1", data={"title": "first", "n": 1})
    user_create(ctx=ctx, uid="u1", email="u1@example.com", password="x-Long-pass-42", claims={"role": "reader"})
    storage_services.bucket_create(ctx=ctx, data={"name": "files"})
    options = storage_services.upload_options(ctx=ctx, content_type="text/plain", metadata=None)
    storage_services.object_upload(
        ctx=ctx, bucket_name="files", path="docs/a.txt", stream=io.BytesIO(b"hello"), declared_size=5, options=options
    )
    return {"ctx": ctx, "project": project.project, **members}
