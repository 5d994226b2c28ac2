"""Console users create and read projects with personal access tokens; roles apply."""

from __future__ import annotations

from typing import Any

import pytest

from projects.models import Membership, Project
from projects.services import membership_set, personal_access_token_create, personal_access_token_revoke


@pytest.fixture
def pat(console_user: Any) -> str:
    return personal_access_token_create(user=console_user, name="cli")[1]


def test_create_project_with_access_token(api: Any, console_user: Any, pat: str) -> None:
    response = api.with_bearer(pat).post("/v1/projects", {"projectId": "my-shop", "name": "My Shop"})
    assert response.status == 201, response.body
    assert response.body["projectId"] == "my-shop" and response.body["name"] == "My Shop"
    assert response.body["publishableKey"].startswith("pk_")
    assert response.body["secretKey"].startswith("sk_")
    membership = Membership.objects.for_project("my-shop").get()
    assert membership.user_id == console_user.pk and membership.role == "owner"
    # The keys returned work, and the project is listed for its owner.
    assert api.with_key(response.body["secretKey"]).get("/v1/projects/my-shop/keys").status == 200
    listed = api.with_bearer(pat).get("/v1/projects")
    assert [p["projectId"] for p in listed.body["projects"]] == ["my-shop"]


@pytest.mark.parametrize("project_id", ["ab", "1abc", "Upper-case", "a" * 41, "has_underscore", "", None, 12])
def test_invalid_project_ids_are_400(api: Any, pat: str, project_id: Any) -> None:
    response = api.with_bearer(pat).post("/v1/projects", {"projectId": project_id})
    assert response.status == 400
    assert response.error_code == "invalid_argument"
    assert Project.objects.count() == 0


def test_duplicate_project_is_409_and_changes_nothing(api: Any, pat: str, other_project: Any) -> None:
    response = api.with_bearer(pat).post("/v1/projects", {"projectId": "beta-app"})
    assert response.status == 409 and response.error_code == "already_exists"
    assert Project.objects.get(pk="beta-app").name == "Beta"
    assert not Membership.objects.for_project("beta-app").exists()


def test_access_token_required(api: Any, project: Any) -> None:
    assert api.post("/v1/projects", {"projectId": "nope-app"}).status == 401
    assert api.with_bearer("pat_" + "x" * 43).post("/v1/projects", {"projectId": "nope-app"}).status == 401
    # A project key is not a console credential.
    assert api.with_bearer(project.secret_key).post("/v1/projects", {"projectId": "nope-app"}).status == 401
    assert not Project.objects.filter(pk="nope-app").exists()


def test_revoked_access_token_is_401(api: Any, console_user: Any) -> None:
    token, plain = personal_access_token_create(user=console_user)
    assert api.with_bearer(plain).get("/v1/projects").status == 200
    personal_access_token_revoke(user=console_user, token_id=token.pk)
    assert api.with_bearer(plain).get("/v1/projects").status == 401


def test_member_roles_through_access_tokens(api: Any, project: Any, console_user: Any, pat: str) -> None:
    client = api.with_bearer(pat)
    # Not a member: the project is invisible.
    assert client.get("/v1/projects/alpha-app").status == 401
    membership_set(project=project.project, user=console_user, role="viewer")
    assert client.get("/v1/projects/alpha-app").status == 200
    assert client.get("/v1/projects/alpha-app/keys").status == 403  # viewers do not see keys
    assert client.post("/v1/projects/alpha-app/keys", {"kind": "secret"}).status == 403
    membership_set(project=project.project, user=console_user, role="developer")
    assert client.get("/v1/projects/alpha-app/keys").status == 403  # key management is admin
    membership_set(project=project.project, user=console_user, role="admin")
    assert client.post("/v1/projects/alpha-app/keys", {"kind": "secret"}).status == 201
    # Admins cannot make owners; owners can.
    response = client.post("/v1/projects/alpha-app/members", {"email": "ada@example.com", "role": "owner"})
    assert response.status == 403
    membership_set(project=project.project, user=console_user, role="owner")
    members = client.get("/v1/projects/alpha-app/members")
    assert members.body["members"] == [
        {"userId": console_user.pk, "email": "ada@example.com", "role": "owner", "createTime": members.body["members"][0]["createTime"]}
    ]


def test_memberships_do_not_cross_projects(api: Any, project: Any, other_project: Any, console_user: Any, pat: str) -> None:
    membership_set(project=project.project, user=console_user, role="owner")
    client = api.with_bearer(pat)
    assert client.get("/v1/projects/beta-app").status == 401
    assert client.get("/v1/projects/beta-app/keys").status == 401
    assert client.post("/v1/projects/beta-app/members", {"email": "ada@example.com", "role": "owner"}).status == 401
    assert not Membership.objects.for_project("beta-app").exists()
    # A secret key of one project cannot list another's members.
    assert api.with_key(project.secret_key).get("/v1/projects/beta-app/members").status == 401
    assert [p["projectId"] for p in client.get("/v1/projects").body["projects"]] == ["alpha-app"]
