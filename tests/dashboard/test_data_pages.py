"""Collections, documents, rules, end users and files through the console pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

P = "/console/p/alpha-app/"


@pytest.fixture
def dev(seeded: Any, as_user: Any) -> Any:
    return as_user(seeded["developer"])


def _doc(doc_id: str) -> Any:
    from projects.documents.store import document_fetch

    stored = document_fetch(project_id="alpha-app", collection="posts", doc_id=doc_id)
    return None if stored is None else (stored.data, stored.version)


def test_saving_rules_schema_and_indexes(dev: Any) -> None:
    from projects.documents.models import Collection

    response = dev.post(P + "collections/posts/config/", {
        "rule_read": "auth != null", "rule_create": "request.data.title.size() < 10",
        "schema": '{"type": "object", "required": ["title"]}', "indexes": "title, -n\n",
    })
    assert response.status_code == 200
    assert b"Saved (version 2)" in response.content
    row = Collection.objects.for_project("alpha-app").get(name="posts")
    assert row.rules == {"read": "auth != null", "create": "request.data.title.size() < 10"}
    assert row.schema == {"type": "object", "required": ["title"]}
    assert row.indexes == [["title", "-n"]]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"rule_read": "auth.uid =="}, "rules.read", b"rules.read"),
        ({"rule_read": "user != null"}, "rules.read", b"Unknown variable"),
        ({"schema": '{"type": "object",'}, "schema", b"Invalid JSON at line 1"),
        ({"schema": '{"type": "nope"}'}, "schema", b"Invalid JSON Schema"),
    ],
)
def test_config_errors_are_shown_in_place_and_nothing_is_saved(dev: Any, form: dict[str, str], field: str, message: bytes) -> None:
    from projects.documents.models import Collection

    before = Collection.objects.for_project("alpha-app").values("rules", "schema", "config_version").get(name="posts")
    response = dev.post(P + "collections/posts/config/", {"schema": "", "indexes": "", **form})
    assert response.status_code == 400
    assert message in response.content
    assert f'[{field}]'.encode() in response.content
    assert Collection.objects.for_project("alpha-app").values("rules", "schema", "config_version").get(name="posts") == before


def test_create_edit_and_delete_a_document(dev: Any) -> None:
    created = dev.post(P + "collections/posts/new/", {"doc_id": "d2", "data": '{"title": "second", "n": 2}'})
    assert created.status_code == 302 and created["Location"] == P + "collections/posts/documents/d2/"
    assert _doc("d2") == ({"title": "second", "n": 2}, 1)
    generated = dev.post(P + "collections/posts/new/", {"doc_id": "", "data": '{"title": "third"}'})
    assert generated.status_code == 302
    assert dev.post(P + "collections/posts/new/", {"doc_id": "d2", "data": "{}"}).status_code == 409
    edited = dev.post(P + "collections/posts/documents/d2/", {"action": "save", "version": "1", "data": '{"title": "2nd"}'})
    assert edited.status_code == 200 and b"Saved as version 2" in edited.content
    assert _doc("d2") == ({"title": "2nd"}, 2)
    stale = dev.post(P + "collections/posts/documents/d2/", {"action": "save", "version": "1", "data": '{"title": "lost"}'})
    assert stale.status_code == 412
    assert _doc("d2") == ({"title": "2nd"}, 2)
    deleted = dev.post(P + "collections/posts/documents/d2/", {"action": "delete", "version": "2"})
    assert deleted.status_code == 302
    assert _doc("d2") is None
    assert dev.get(P + "collections/posts/documents/d2/").status_code == 404


def test_invalid_json_and_schema_violations_are_shown_in_place(dev: Any) -> None:
    dev.post(P + "collections/posts/config/", {"schema": '{"type": "object", "required": ["title"]}', "indexes": "", "rule_read": "true"})
    broken = dev.post(P + "collections/posts/documents/d1/", {"action": "save", "version": "1", "data": '{"title": '})
    assert broken.status_code == 400
    assert b"Invalid JSON at line 1, column 11" in broken.content
    assert b'aria-invalid="true"' in broken.content
    assert b"{&quot;title&quot;: </textarea>" in broken.content  # the text stays as typed
    violating = dev.post(P + "collections/posts/documents/d1/", {"action": "save", "version": "1", "data": '{"n": 5}'})
    assert violating.status_code == 400
    assert b"title" in violating.content and b'data-error-code="invalid_argument"' in violating.content
    assert _doc("d1") == ({"title": "first", "n": 1}, 1)


def test_query_builder_filters_orders_and_pages(dev: Any, seeded: Any) -> None:
    from projects.documents.services import document_set

    for n in range(2, 8):
        document_set(ctx=seeded["ctx"], collection="posts", doc_id=f"d{n}", data={"title": f"t{n}", "n": n, "even": n % 2 == 0})
    first = dev.get(P + "collections/posts/", {"f0_field": "n", "f0_op": ">=", "f0_value": "3", "f1_field": "even", "f1_op": "==", "f1_value": "true", "order": "n", "direction": "desc", "limit": "1"})
    assert first.status_code == 200
    assert re.findall(rb'data-doc="([^"]+)"', first.content) == [b"d6"]
    next_link = re.search(rb'href="\?([^"]+)" rel="next"', first.content).group(1).decode().replace("&amp;", "&")
    second = dev.get(P + "collections/posts/?" + next_link)
    assert re.findall(rb'data-doc="([^"]+)"', second.content) == [b"d4"]
    assert b'rel="next"' not in second.content
    everything = dev.get(P + "collections/posts/", {"order": "n", "limit": "3"})
    assert re.findall(rb'data-doc="([^"]+)"', everything.content) == [b"d1", b"d2", b"d3"]
    text_value = dev.get(P + "collections/posts/", {"f0_field": "title", "f0_op": "==", "f0_value": "t5"})
    assert re.findall(rb'data-doc="([^"]+)"', text_value.content) == [b"d5"]
    bad = dev.get(P + "collections/posts/", {"f0_field": "n", "f0_op": "in", "f0_value": "3"})
    assert bad.status_code == 400 and b"takes an array" in bad.content


def test_playground_runs_rules_as_a_user_against_a_document(dev: Any) -> None:
    def run(**form: str) -> bytes:
        response = dev.post(P + "collections/posts/playground/", form)
        assert response.status_code == 200
        return response.content

    assert b'data-playground="allowed"' in run(operation="get", uid="u1", doc_id="d1")
    assert b'data-playground="denied"' in run(operation="get", uid="", doc_id="d1")
    assert b"No &#x27;create&#x27; rule" in run(operation="create", uid="u1")
    claims_rule = "auth.token.role == 'reader' && resource.data.n == 1"
    assert b'data-playground="allowed"' in run(operation="get", uid="u1", doc_id="d1", rule=claims_rule)
    assert b'data-playground="denied"' in run(operation="get", uid="u1", doc_id="d1", rule=claims_rule, claims='{"role": "x"}')
    assert b"list rule mode: sql" in run(operation="list", uid="u1")
    assert b'data-playground="error"' in run(operation="get", rule="auth.uid ==")
    assert b"not found" in run(operation="get", uid="u1", doc_id="missing")


def test_end_users_search_disable_claims_and_delete(dev: Any, seeded: Any) -> None:
    from endusers.models import EndUser
    from endusers.services import user_create

    user_create(ctx=seeded["ctx"], uid="u2", email="bob@example.com", password="x-Long-pass-42")
    listing = dev.get(P + "users/", {"search": "bob"})
    assert re.findall(rb'data-uid="([^"]+)"', listing.content) == [b"u2"]
    assert re.findall(rb'data-uid="([^"]+)"', dev.get(P + "users/").content) == [b"u1", b"u2"]
    assert dev.post(P + "users/u2/", {"action": "disable"}).status_code == 302
    assert EndUser.objects.for_project("alpha-app").get(uid="u2").disabled is True
    assert b"disabled" in dev.get(P + "users/").content
    assert dev.post(P + "users/u2/", {"action": "enable"}).status_code == 302
    assert EndUser.objects.for_project("alpha-app").get(uid="u2").disabled is False
    assert dev.post(P + "users/u2/", {"action": "claims", "claims": '{"plan": "pro"}'}).status_code == 302
    assert EndUser.objects.for_project("alpha-app").get(uid="u2").claims == {"plan": "pro"}
    reserved = dev.post(P + "users/u2/", {"action": "claims", "claims": '{"sub": "x"}'})
    assert reserved.status_code == 400 and b"reserved claims" in reserved.content
    assert EndUser.objects.for_project("alpha-app").get(uid="u2").claims == {"plan": "pro"}
    assert dev.post(P + "users/u2/", {"action": "delete"}).status_code == 302
    assert not EndUser.objects.for_project("alpha-app").filter(uid="u2").exists()


def test_auth_settings_and_oauth_providers(dev: Any) -> None:
    from endusers.config import auth_config_json
    from endusers.oauth import providers_list

    saved = dev.post(P + "auth-settings/", {"action": "config", "access_token_lifetime": "900", "email_action_url": "https://app.example.com/act", "redirect_uris": "https://app.example.com/cb\n"})
    assert saved.status_code == 302
    assert auth_config_json("alpha-app") == {"accessTokenLifetime": 900, "accessTokenLifetimeDefault": False, "emailActionUrl": "https://app.example.com/act", "redirectUris": ["https://app.example.com/cb"], "emailTemplates": {"verify": None, "reset": None}}
    bad = dev.post(P + "auth-settings/", {"action": "config", "access_token_lifetime": "5", "email_action_url": "", "redirect_uris": ""})
    assert bad.status_code == 400 and b"accessTokenLifetime" in bad.content
    assert auth_config_json("alpha-app")["accessTokenLifetime"] == 900
    provider = dev.post(P + "auth-settings/", {"action": "provider", "name": "gh", "kind": "github", "client_id": "cid", "client_secret": "s3cr3t-value"})
    assert provider.status_code == 302
    page = dev.get(P + "auth-settings/")
    assert b'data-provider="gh"' in page.content and b"s3cr3t-value" not in page.content
    assert [p.name for p in providers_list(project_id="alpha-app")] == ["gh"]
    dev.post(P + "auth-settings/", {"action": "provider_delete", "name": "gh"})
    assert providers_list(project_id="alpha-app") == []


def test_email_templates_are_edited_in_place(dev: Any) -> None:
    from dashboard.models import AuditEntry
    from endusers.config import auth_config_json

    saved = dev.post(P + "auth-settings/", {"action": "email_template", "purpose": "verify", "subject": "Confirm {{ email }}",
                                            "body": "Open {{ link }}\r\nor type {{ token }}"})
    assert saved.status_code == 302
    assert auth_config_json("alpha-app")["emailTemplates"] == {
        "verify": {"subject": "Confirm {{ email }}", "body": "Open {{ link }}\nor type {{ token }}"}, "reset": None,
    }
    page = dev.get(P + "auth-settings/")
    assert b'data-template="verify"' in page.content and b"Confirm {{ email }}" in page.content
    bad = dev.post(P + "auth-settings/", {"action": "email_template", "purpose": "verify", "subject": "x", "body": "{{ password }} {{ token }}"})
    assert bad.status_code == 400 and b"Unknown placeholder" in bad.content
    assert auth_config_json("alpha-app")["emailTemplates"]["verify"]["subject"] == "Confirm {{ email }}"
    reset = dev.post(P + "auth-settings/", {"action": "email_template", "purpose": "verify", "subject": "", "body": ""})
    assert reset.status_code == 302 and auth_config_json("alpha-app")["emailTemplates"]["verify"] is None
    assert AuditEntry.objects.for_project("alpha-app").filter(action="auth.email_template").count() == 2


def test_buckets_folders_upload_download_delete(dev: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from storage.models import StoredObject

    root = dev.get(P + "storage/files/")
    assert re.findall(rb'data-folder="([^"]+)"', root.content) == [b"docs/"]
    uploaded = dev.post(
        P + "storage/files/?prefix=docs/",
        {"action": "upload", "prefix": "docs/", "file": SimpleUploadedFile("notes.txt", b"some notes", content_type="text/plain")},
        HTTP_ACCEPT="application/json",
    )
    assert uploaded.status_code == 201
    assert uploaded.json()["path"] == "docs/notes.txt" and uploaded.json()["size"] == 10
    folder = dev.get(P + "storage/files/", {"prefix": "docs/"})
    assert re.findall(rb'data-path="([^"]+)"', folder.content) == [b"docs/a.txt", b"docs/notes.txt"]
    download = dev.get(P + "storage/files/download/", {"path": "docs/notes.txt"})
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"some notes"
    assert download["Content-Disposition"].startswith("attachment;")
    usage = dev.get(P + "storage/")
    assert b'data-usage-bytes="15"' in usage.content
    too_big = dev.post(P + "storage/", {"action": "create", "name": "tiny", "max_file_size": "3"})
    assert too_big.status_code == 302
    refused = dev.post(P + "storage/tiny/", {"action": "upload", "file": SimpleUploadedFile("x.bin", b"12345")}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "payload_too_large"
    assert dev.post(P + "storage/files/", {"action": "delete", "path": "docs/notes.txt"}).status_code == 302
    assert sorted(StoredObject.objects.for_project("alpha-app").values_list("path", flat=True)) == ["docs/a.txt"]
    not_empty = dev.post(P + "storage/", {"action": "delete", "name": "files"})
    assert not_empty.status_code == 412 and b"not empty" in not_empty.content
    assert dev.get(P + "storage/files/download/", {"path": "docs/notes.txt"}).status_code == 404
    assert dev.get(P + "storage/nope/").status_code == 404
