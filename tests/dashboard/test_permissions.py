"""Every console page and action against every role, and a member of another project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from tests.dashboard.conftest import ROLES

pytestmark = pytest.mark.django_db

P = "/console/p/alpha-app/"

PAGES = [
    "", "members/", "keys/", "settings/", "usage/", "usage/data.json", "audit/", "collections/",
    "collections/posts/", "collections/posts/config/", "collections/posts/new/", "collections/posts/documents/d1/",
    "users/", "users/u1/", "auth-settings/", "storage/", "storage/files/", "storage/files/?prefix=docs/",
]


@pytest.mark.parametrize("role", ROLES)
def test_every_member_sees_every_page(seeded: Any, as_user: Any, role: str) -> None:
    client = as_user(seeded[role])
    for page in PAGES:
        response = client.get(P + page)
        assert response.status_code == 200, page
    download = client.get(P + "storage/files/download/?path=docs/a.txt")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello"


def test_a_member_of_another_project_finds_nothing(seeded: Any, as_user: Any) -> None:
    client = as_user(seeded["outsider"])
    for page in PAGES + ["storage/files/download/?path=docs/a.txt"]:
        assert client.get(P + page).status_code == 404, page
    assert client.get("/console/p/beta-app/").status_code == 200
    assert client.get("/console/p/no-such-project/").status_code == 404


def test_signed_out_visitors_are_sent_to_log_in(seeded: Any, client: Any) -> None:
    for page in PAGES:
        response = client.get(P + page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/console/login/?next=")


# --- actions ---------------------------------------------------------------------------------


def _doc(seeded: Any, doc_id: str) -> Any:
    from projects.documents.store import document_fetch

    stored = document_fetch(project_id="alpha-app", collection="posts", doc_id=doc_id)
    return stored.data if stored else None


def _collection(name: str) -> Any:
    from projects.documents.models import Collection

    row = Collection.objects.for_project("alpha-app").filter(name=name).first()
    return None if row is None else (row.rules, row.schema)


def _user(uid: str) -> Any:
    from endusers.models import EndUser

    user = EndUser.objects.for_project("alpha-app").filter(uid=uid).first()
    return None if user is None else (user.disabled, user.claims)


def _auth_config() -> Any:
    from endusers.config import auth_config_json

    return auth_config_json("alpha-app")


def _buckets() -> Any:
    from storage.models import Bucket

    return sorted(Bucket.objects.for_project("alpha-app").values_list("name", flat=True))


def _objects() -> Any:
    from storage.models import StoredObject

    return sorted(StoredObject.objects.for_project("alpha-app").values_list("path", "size"))


def _keys() -> Any:
    from projects.models import ApiKey

    return sorted(ApiKey.objects.for_project("alpha-app").values_list("pk", "revoked_at"))


def _members() -> Any:
    from projects.models import Membership

    return sorted(Membership.objects.for_project("alpha-app").values_list("user__email", "role"))


def _invitations() -> Any:
    from dashboard.models import Invitation

    return list(Invitation.objects.for_project("alpha-app").values_list("email", "role"))


def _project() -> Any:
    from projects.models import Project

    return Project.objects.filter(pk="alpha-app").exists()


def _upload_file() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("b.txt", b"bytes!", content_type="text/plain")


@dataclass
class Action:
    minimum: str
    path: str
    data: Callable[[Any], dict[str, Any]]
    state: Callable[[], Any]


ACTIONS: dict[str, Action] = {
    "collection.create": Action("developer", "collections/", lambda s: {"name": "notes"}, lambda: _collection("notes")),
    "collection.config": Action("developer", "collections/posts/config/", lambda s: {"rule_read": "true", "schema": "", "indexes": ""}, lambda: _collection("posts")),
    "document.create": Action("developer", "collections/posts/new/", lambda s: {"doc_id": "d9", "data": '{"n": 9}'}, lambda: _doc(None, "d9")),
    "document.update": Action("developer", "collections/posts/documents/d1/", lambda s: {"action": "save", "version": "1", "data": '{"n": 2}'}, lambda: _doc(None, "d1")),
    "document.delete": Action("developer", "collections/posts/documents/d1/", lambda s: {"action": "delete", "version": "1"}, lambda: _doc(None, "d1")),
    "user.disable": Action("developer", "users/u1/", lambda s: {"action": "disable"}, lambda: _user("u1")),
    "user.claims": Action("developer", "users/u1/", lambda s: {"action": "claims", "claims": '{"role": "editor"}'}, lambda: _user("u1")),
    "user.delete": Action("developer", "users/u1/", lambda s: {"action": "delete"}, lambda: _user("u1")),
    "auth.config": Action("developer", "auth-settings/", lambda s: {"action": "config", "access_token_lifetime": "600", "email_action_url": "", "redirect_uris": ""}, _auth_config),
    "auth.provider": Action("developer", "auth-settings/", lambda s: {"action": "provider", "name": "gh", "kind": "github", "client_id": "cid"}, lambda: __import__("endusers.oauth", fromlist=["x"]).providers_list(project_id="alpha-app").__len__()),
    "bucket.create": Action("developer", "storage/", lambda s: {"action": "create", "name": "avatars"}, _buckets),
    "file.upload": Action("developer", "storage/files/", lambda s: {"action": "upload", "prefix": "docs/", "file": _upload_file()}, _objects),
    "file.delete": Action("developer", "storage/files/", lambda s: {"action": "delete", "path": "docs/a.txt"}, _objects),
    "key.create": Action("admin", "keys/", lambda s: {"action": "create", "kind": "secret", "name": "ci"}, _keys),
    "key.revoke": Action("admin", "keys/", lambda s: {"action": "revoke", "key_id": str(_keys()[0][0])}, _keys),
    "member.invite": Action("owner", "members/", lambda s: {"action": "invite", "email": "new@example.com", "role": "viewer"}, _invitations),
    "member.role": Action("owner", "members/", lambda s: {"action": "role", "user_id": str(s["viewer"].pk), "role": "developer"}, _members),
    "member.remove": Action("owner", "members/", lambda s: {"action": "remove", "user_id": str(s["developer"].pk)}, _members),
    "project.delete": Action("owner", "settings/", lambda s: {"confirm": "alpha-app"}, _project),
}

RANK = {"viewer": 1, "developer": 2, "admin": 3, "owner": 4}


@pytest.mark.parametrize("role", [*ROLES, "outsider"])
@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_role_against_each_action(seeded: Any, as_user: Any, mailoutbox: Any, role: str, name: str) -> None:
    action = ACTIONS[name]
    before = action.state()
    response = as_user(seeded[role]).post(P + action.path, action.data(seeded))
    after = action.state()
    if role == "outsider":
        assert response.status_code == 404
        assert after == before
    elif RANK[role] >= RANK[action.minimum]:
        assert response.status_code in (200, 201, 302), response.content[:500]
        assert after != before
    else:
        assert response.status_code == 403
        assert f"needs the {action.minimum} role".encode() in response.content
        assert after == before


def test_a_viewer_sees_no_edit_controls(seeded: Any, as_user: Any) -> None:
    client = as_user(seeded["viewer"])
    collections = client.get(P + "collections/").content.decode()
    assert "Create collection" not in collections
    document = client.get(P + "collections/posts/documents/d1/").content.decode()
    assert "readonly" in document and ">Save<" not in document
    files = client.get(P + "storage/files/?prefix=docs/").content.decode()
    assert "data-upload" not in files and "Download" in files
    developer = as_user(seeded["developer"]).get(P + "collections/").content.decode()
    assert "Create collection" in developer


def test_playground_is_open_to_viewers_and_changes_nothing(seeded: Any, as_user: Any) -> None:
    before = _collection("posts")
    response = as_user(seeded["viewer"]).post(P + "collections/posts/playground/", {"operation": "get", "uid": "u1", "doc_id": "d1"})
    assert response.status_code == 200
    assert b'data-playground="allowed"' in response.content
    assert _collection("posts") == before
    outsider = as_user(seeded["outsider"]).post(P + "collections/posts/playground/", {"operation": "get"})
    assert outsider.status_code == 404


def test_a_viewer_token_cannot_write_even_past_the_view(seeded: Any) -> None:
    """The context a viewer's change gets has no power: services refuse on their own."""
    from django.test import RequestFactory

    from baas.api.errors import PermissionDenied
    from dashboard.access import console_access
    from projects.documents.services import document_set

    request = RequestFactory().post("/")
    request.user = seeded["viewer"]
    console = console_access(request, "alpha-app")
    with pytest.raises(PermissionDenied):
        from projects.documents.config import collection_config_set

        collection_config_set(ctx=console.ctx, name="posts", schema=None, rules={}, indexes=[])
    with pytest.raises(PermissionDenied):
        document_set(ctx=console.ctx, collection="posts", doc_id="d1", data={"x": 1})
    assert _doc(None, "d1") == {"title": "first", "n": 1}
