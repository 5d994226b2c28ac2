"""A client generated from the served OpenAPI document (openapi-python-client) drives a
live server through a real flow: the document is complete enough to build a working
client from, and the models it yields parse the server's real answers."""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.openapi.conftest import P

PACKAGE = "baas_generated_client"


@pytest.fixture
def generated(server: LiveServer, tmp_path: Path) -> Iterator[ModuleType]:
    spec = tmp_path / "openapi.json"
    spec.write_bytes(requests.get(server.url + "/v1/openapi.json", timeout=30).content)
    generator = shutil.which("openapi-python-client") or str(Path(sys.executable).parent / "openapi-python-client")
    result = subprocess.run(
        [generator, "generate", "--path", str(spec), "--output-path", str(tmp_path / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation was generated: the generator skips those it cannot express, with a warning.
    assert "Endpoint will not be generated" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_a_generated_client_signs_up_writes_queries_uploads_and_lists(generated: ModuleType, server: LiveServer, project: Any) -> None:
    def module(name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.{name}")

    client_module, models, types = module("client"), module("models"), module("types")
    api = {name: module(f"api.{group}.{name}") for group, names in (
        ("auth", ("auth_signup", "auth_me_get", "users_list")),
        ("documents", ("collection_set", "document_create", "document_get", "document_update", "documents_query")),
        ("storage", ("buckets_create", "object_upload", "object_download", "objects_list")),
    ) for name in names}  # fmt: skip
    url = server.url
    # A secret key in X-Api-Key, and an app's publishable key beside a user's bearer token.
    admin = client_module.AuthenticatedClient(base_url=url, token=project.secret_key, prefix="", auth_header_name="X-Api-Key")
    anonymous = client_module.AuthenticatedClient(base_url=url, token=project.publishable_key, prefix="", auth_header_name="X-Api-Key")

    # Set-up with the secret key: rules let a signed-in user read and write.
    rules = {"read": "auth != null", "write": "auth != null && request.data.owner == auth.uid"}
    config = models.CollectionConfig(rules=models.CollectionConfigRules.from_dict(rules))
    collection = api["collection_set"].sync(P, "notes", client=admin, body=config)
    assert isinstance(collection, models.Collection) and collection.rules.to_dict() == rules
    bucket_rules = models.BucketCreateRules.from_dict({"read": "auth != null", "write": "auth != null"})
    bucket = api["buckets_create"].sync(P, client=admin, body=models.BucketCreate(name="files", rules=bucket_rules))
    assert isinstance(bucket, models.Bucket) and bucket.name == "files"

    # Sign up: the answer parses into a Session whose user is a User.
    signup = api["auth_signup"].sync_detailed(
        P, client=anonymous, body=models.SignupRequest(email="ada@example.com", password="correct horse battery")
    )
    assert signup.status_code == 201, signup.content
    session = signup.parsed
    assert isinstance(session, models.Session) and session.user.email == "ada@example.com" and session.expires_in > 0
    user = client_module.AuthenticatedClient(base_url=url, token=session.access_token, headers={"X-Api-Key": project.publishable_key})
    me = api["auth_me_get"].sync(P, client=user)
    assert isinstance(me, models.UserEnvelope) and me.user.uid == session.user.uid

    # Documents: create five, update one, read it back with its ETag.
    created = []
    for score in range(5):
        data = models.DocumentWriteData.from_dict({"owner": session.user.uid, "score": score})
        document = api["document_create"].sync(P, "notes", client=user, body=models.DocumentWrite(data=data))
        assert isinstance(document, models.Document) and document.version == 1, document
        created.append(document.id)
    patch = models.DocumentWrite(data=models.DocumentWriteData.from_dict({"title": "first"}))
    updated = api["document_update"].sync(P, "notes", created[0], client=user, body=patch)
    assert isinstance(updated, models.Document) and updated.version == 2 and updated.data["title"] == "first"
    fetched = api["document_get"].sync_detailed(P, "notes", created[0], client=user, fields="title")
    assert fetched.status_code == 200 and fetched.headers["ETag"] == '"2"'
    assert fetched.parsed.data.to_dict() == {"title": "first"}
    missing = api["document_get"].sync(P, "notes", "nope", client=user)
    assert isinstance(missing, models.Error) and missing.error.code == "not_found"

    # A query paged with its cursor: every document once, in score order.
    where = models.Filter(field="score", op=models.FilterOp(">="), value=1)
    order = [models.QueryOrderByItem(field="score", direction=models.QueryOrderByItemDirection("desc"))]
    scores, cursor, pages = [], types.UNSET, 0
    while True:
        page = api["documents_query"].sync(P, "notes", client=user, body=models.Query(where=where, order_by=order, limit=2, cursor=cursor))
        assert isinstance(page, models.QueryResult), page
        scores += [document.data["score"] for document in page.documents]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert scores == [4, 3, 2, 1] and pages == 2

    # Storage: upload raw bytes, download them, list with a cursor.
    payload = b"generated client bytes"
    for path in ("docs/a.txt", "docs/b.txt", "docs/c.txt"):
        stored = api["object_upload"].sync(P, "files", path, client=user, body=types.File(payload=io.BytesIO(payload)))
        assert isinstance(stored, models.StorageObject) and stored.size == len(payload) and stored.path == path, stored
        assert stored.owner == session.user.uid
    downloaded = api["object_download"].sync(P, "files", "docs/b.txt", client=user)
    assert isinstance(downloaded, types.File) and downloaded.payload.read() == payload
    ranged = api["object_download"].sync_detailed(P, "files", "docs/b.txt", client=user, range_="bytes=0-8")
    assert ranged.status_code == 206 and ranged.parsed.payload.read() == payload[:9]
    listed, cursor = [], types.UNSET
    while True:
        page = api["objects_list"].sync(P, "files", client=user, prefix="docs/", limit=2, cursor=cursor)
        assert isinstance(page, models.StorageObjectList), page
        listed += [item.path for item in page.objects]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert listed == ["docs/a.txt", "docs/b.txt", "docs/c.txt"]

    # The admin's user list parses too, and finds the new user.
    users = api["users_list"].sync(P, client=admin, search="ada@")
    assert isinstance(users, models.UserList) and [u.uid for u in users.users] == [session.user.uid]
