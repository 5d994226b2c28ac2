"""Every console page and action against every role, and a member of another project."""

from __future__ import annotations

import re
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
    "functions/", "push/", "push/?uid=u1", "webhooks/",
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
    "auth.email_template": Action("developer", "auth-settings/", lambda s: {"action": "email_template", "purpose": "reset", "subject": "Reset", "body": "Code: {{ token }}"}, _auth_config),
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

def _functions() -> Any:
    from functions.models import FunctionVersion

    return FunctionVersion.objects.for_project("alpha-app").count()


def _push_messages() -> Any:
    from projects.push.models import PushMessage

    return PushMessage.objects.for_project("alpha-app").count()


def _push_credentials() -> Any:
    from projects.push.models import FcmCredential

    return FcmCredential.objects.for_project("alpha-app").count()


def _webhooks() -> Any:
    from projects.webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.for_project("alpha-app").count()


def _service_account() -> str:
    from cryptography.hazmat.primitives import serialization

    from tests.push import support

    pem = support.fcm_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return __import__("json").dumps({
        "type": "service_account", "project_id": "demo-fcm", "private_key_id": "0" * 40, "private_key": pem,
        "client_email": "push@demo-fcm.iam.gserviceaccount.com", "client_id": "1",
    })


ACTIONS.update({
    "function.deploy": Action("developer", "functions/", lambda s: {"name": "hello", "source": "def handler(event, ctx):\n    return 1\n"}, _functions),
    "push.send": Action("developer", "push/", lambda s: {"action": "send", "target_kind": "users", "target": "u1", "title": "Hi"}, _push_messages),
    "push.credentials": Action("admin", "push/", lambda s: {"action": "credentials", "service_account": _service_account()}, _push_credentials),
    "webhook.create": Action("developer", "webhooks/", lambda s: {"action": "create", "url": "https://93.184.216.34/h", "events": "*"}, _webhooks),
})

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
        # The page says which role the change needs (the first bar the caller fails).
        assert re.search(rb"needs the (developer|admin|owner) role; you are " + role.encode(), response.content)
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


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", "collections/Bad Name!/", None, 400),
        ("get", "collections/posts/documents/" + "x" * 2000 + "/", None, 400),
        ("get", "collections/posts/?limit=abc", None, 400),
        ("get", "collections/posts/?limit=5000", None, 400),
        ("get", "collections/posts/?cursor=garbage", None, 400),
        ("get", "collections/posts/?f0_field=a..b&f0_op=%3D%3D&f0_value=1", None, 400),
        ("get", "collections/posts/?f0_field=n&f0_op=like&f0_value=1", None, 400),
        ("get", "users/?cursor=%%%", None, 400),
        ("get", "storage/files/?prefix=%00", None, 400),
        ("get", "storage/files/?cursor=zzz", None, 400),
        ("get", "storage/files/download/", None, 400),
        ("get", "storage/files/download/?path=nope.txt", None, 404),
        ("get", "usage/?range=forever", None, 200),
        ("post", "keys/", {"action": "revoke", "key_id": "abc"}, 404),
        ("post", "keys/", {"action": "create", "kind": "golden"}, 400),
        ("post", "keys/", {"action": "explode"}, 400),
        ("post", "members/", {"action": "role", "user_id": "abc", "role": "viewer"}, 404),
        ("post", "members/", {"action": "role", "user_id": "1", "role": "emperor"}, 400),
        ("post", "members/", {"action": "invite", "email": "nobody", "role": "viewer"}, 400),
        ("post", "collections/", {"name": ""}, 400),
        ("post", "collections/posts/new/", {"doc_id": "a/b", "data": "{}"}, 400),
        ("post", "collections/posts/new/", {"doc_id": "", "data": "[1, 2]"}, 400),
        ("post", "collections/posts/new/", {"doc_id": "", "data": ""}, 400),
        ("post", "collections/posts/documents/d1/", {"action": "save", "version": "x", "data": "{}"}, 400),
        ("post", "collections/posts/config/", {"indexes": "a..b", "schema": ""}, 400),
        ("post", "collections/posts/playground/", {"operation": "fly"}, 200),
        ("post", "collections/posts/playground/", {"operation": "get", "uid": "u1", "claims": "{"}, 200),
        ("post", "users/u1/", {"action": "claims", "claims": "[]"}, 400),
        ("post", "users/u1/", {"action": "teleport"}, 400),
        ("post", "auth-settings/", {"action": "config", "access_token_lifetime": "soon"}, 400),
        ("post", "auth-settings/", {"action": "provider", "name": "Bad Name", "kind": "github", "client_id": "x"}, 400),
        ("post", "auth-settings/", {"action": "email_template", "purpose": "reset", "subject": "x", "body": "no code"}, 400),
        ("post", "auth-settings/", {"action": "email_template", "purpose": "welcome", "subject": "x", "body": "{{ token }}"}, 400),
        ("post", "storage/", {"action": "create", "name": "Bad Bucket!"}, 400),
        ("post", "storage/", {"action": "create", "name": "big", "max_file_size": "-1"}, 400),
        ("post", "storage/files/", {"action": "upload"}, 400),
        ("post", "storage/files/", {"action": "delete", "path": "nope.txt"}, 400),
        ("post", "functions/", {"name": "bad name!", "source": "def handler(e, c): pass"}, 400),
        ("post", "functions/", {"name": "f", "source": "def handler(:"}, 400),
        ("post", "functions/nope/", {"action": "invoke", "payload": "{}"}, 404),
        ("post", "settings/", {"confirm": ""}, 400),
    ],
)
def test_bad_input_is_a_clear_4xx_never_a_500(seeded: Any, as_user: Any, method: str, path: str, data: Any, status: int) -> None:
    client = as_user(seeded["owner"])
    before = (_doc(None, "d1"), _collection("posts"), _keys(), _members(), _buckets(), _objects())
    response = getattr(client, method)(P + path, data) if data is not None else getattr(client, method)(P + path)
    assert response.status_code == status, response.content[:400]
    assert (_doc(None, "d1"), _collection("posts"), _keys(), _members(), _buckets(), _objects()) == before


def test_pages_of_an_unknown_project_are_a_console_page(seeded: Any, as_user: Any) -> None:
    response = as_user(seeded["outsider"]).get(P)
    assert response.status_code == 404
    assert b"not a member of it" in response.content and b"<html" in response.content
