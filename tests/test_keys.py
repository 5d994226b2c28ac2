"""API key authentication matrix, key lifecycle, and isolation between projects."""

from __future__ import annotations

from typing import Any

import pytest

from projects.models import ApiKey
from projects.services import secret_hash


def _error(response: Any, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert set(response.body) == {"error"}
    assert response.body["error"]["code"] == code
    assert isinstance(response.body["error"]["message"], str) and response.body["error"]["message"]
    assert isinstance(response.body["error"]["details"], dict)


@pytest.mark.parametrize(
    "key_header",
    [None, "", "garbage", "pk_", "sk_" + "A" * 43, "Bearer x"],
    ids=["missing", "empty", "garbage", "bare-prefix", "unknown-secret", "wrong-scheme"],
)
def test_missing_or_malformed_key_is_401(api: Any, project: Any, key_header: str | None) -> None:
    response = api.with_key(key_header).get("/v1/projects/alpha-app")
    _error(response, 401, "unauthenticated")


def test_valid_keys_of_both_kinds_read_the_project(api: Any, project: Any) -> None:
    for key in (project.publishable_key, project.secret_key):
        response = api.with_key(key).get("/v1/projects/alpha-app")
        assert response.status == 200
        assert response.body["projectId"] == "alpha-app"
        assert response.body["name"] == "Alpha"
        assert response.body["createTime"].endswith("Z")


def test_other_projects_key_is_401_and_indistinguishable_from_unknown(api: Any, project: Any, other_project: Any) -> None:
    foreign = api.with_key(other_project.secret_key).get("/v1/projects/alpha-app")
    _error(foreign, 401, "unauthenticated")
    unknown = api.with_key("sk_" + "B" * 43).get("/v1/projects/alpha-app")
    assert foreign.body == unknown.body
    # A project that does not exist answers the same as one that does: no oracle.
    missing_project = api.with_key(other_project.secret_key).get("/v1/projects/gamma-app")
    assert missing_project.status == 401 and missing_project.body == foreign.body


def test_publishable_key_cannot_use_secret_only_calls(public_api: Any) -> None:
    _error(public_api.get("/v1/projects/alpha-app/keys"), 403, "permission_denied")
    _error(public_api.post("/v1/projects/alpha-app/keys", {"kind": "secret"}), 403, "permission_denied")


def test_keys_are_stored_hashed_and_shown_once(secret_api: Any, project: Any) -> None:
    created = secret_api.post("/v1/projects/alpha-app/keys", {"kind": "publishable", "name": "ios app"})
    assert created.status == 201
    plain = created.body["key"]
    assert plain.startswith("pk_") and len(plain) > 40
    assert created.body["prefix"] == plain[:10]
    stored = ApiKey.objects.for_project(project.project).get(pk=created.body["id"])
    assert stored.key_hash == secret_hash(plain) and plain not in stored.key_hash
    listing = secret_api.get("/v1/projects/alpha-app/keys")
    assert listing.status == 200
    assert plain not in str(listing.body)
    assert {k["name"] for k in listing.body["keys"]} == {"default", "ios app"}
    assert all("key" not in k for k in listing.body["keys"])
    # The new key works at once.
    assert secret_api.with_key(plain).get("/v1/projects/alpha-app").status == 200


def test_revoked_key_is_401_immediately(secret_api: Any, project: Any) -> None:
    created = secret_api.post("/v1/projects/alpha-app/keys", {"kind": "secret", "name": "ci"})
    new_key = created.body["key"]
    assert secret_api.with_key(new_key).get("/v1/projects/alpha-app/keys").status == 200
    assert secret_api.delete(f"/v1/projects/alpha-app/keys/{created.body['id']}").status == 204
    _error(secret_api.with_key(new_key).get("/v1/projects/alpha-app"), 401, "unauthenticated")
    listed = {k["id"]: k for k in secret_api.get("/v1/projects/alpha-app/keys").body["keys"]}
    assert listed[created.body["id"]]["active"] is False
    assert listed[created.body["id"]]["revokeTime"] is not None


def test_rotate_replaces_the_key(secret_api: Any, project: Any) -> None:
    created = secret_api.post("/v1/projects/alpha-app/keys", {"kind": "publishable", "name": "web"})
    rotated = secret_api.post(f"/v1/projects/alpha-app/keys/{created.body['id']}:rotate")
    assert rotated.status == 201
    assert rotated.body["name"] == "web" and rotated.body["kind"] == "publishable"
    assert rotated.body["key"] != created.body["key"]
    assert secret_api.with_key(rotated.body["key"]).get("/v1/projects/alpha-app").status == 200
    _error(secret_api.with_key(created.body["key"]).get("/v1/projects/alpha-app"), 401, "unauthenticated")
    _error(secret_api.post(f"/v1/projects/alpha-app/keys/{created.body['id']}:rotate"), 400, "invalid_argument")


def test_bad_key_input_is_400(secret_api: Any) -> None:
    _error(secret_api.post("/v1/projects/alpha-app/keys", {"kind": "master"}), 400, "invalid_argument")
    _error(secret_api.post("/v1/projects/alpha-app/keys", {"name": "no kind"}), 400, "invalid_argument")
    _error(secret_api.post("/v1/projects/alpha-app/keys", {"kind": 7}), 400, "invalid_argument")
    _error(secret_api.post("/v1/projects/alpha-app/keys", [1, 2]), 400, "invalid_argument")


def test_cannot_revoke_or_rotate_another_projects_key(secret_api: Any, project: Any, other_project: Any) -> None:
    foreign = ApiKey.objects.for_project(other_project.project).first()
    assert foreign is not None
    _error(secret_api.delete(f"/v1/projects/alpha-app/keys/{foreign.pk}"), 404, "not_found")
    _error(secret_api.post(f"/v1/projects/alpha-app/keys/{foreign.pk}:rotate"), 404, "not_found")
    foreign.refresh_from_db()
    assert foreign.revoked_at is None
    assert secret_api.with_key(other_project.secret_key).get("/v1/projects/beta-app").status == 200
    # And listing shows only the caller's keys.
    ids = {k["id"] for k in secret_api.get("/v1/projects/alpha-app/keys").body["keys"]}
    assert foreign.pk not in ids
    assert ids == set(ApiKey.objects.for_project(project.project).values_list("pk", flat=True))
