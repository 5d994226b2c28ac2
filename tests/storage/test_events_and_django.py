"""Storage events after commit, and the same object calls through Django's URLconf (the
WSGI transport and the test client), on both backends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from storage.events import StorageEvent, storage_object_changed
from tests.conftest import Api
from tests.storage.conftest import BACKENDS

BASE = "/v1/projects/alpha-app/buckets/files/objects"


@pytest.fixture(params=BACKENDS)
def backend(request: Any, settings: Any, s3_env: dict[str, str], tmp_path: Any) -> str:
    settings.BAAS_STORAGE = request.param
    settings.BAAS_STORAGE_LOCAL_DIR = tmp_path / "store"
    if request.param == "s3":
        settings.BAAS_S3_ENDPOINT_URL = s3_env["BAAS_S3_ENDPOINT_URL"]
        settings.BAAS_S3_BUCKET = s3_env["BAAS_S3_BUCKET"]
        settings.BAAS_S3_ACCESS_KEY_ID = s3_env["BAAS_S3_ACCESS_KEY_ID"]
        settings.BAAS_S3_SECRET_ACCESS_KEY = s3_env["BAAS_S3_SECRET_ACCESS_KEY"]
        settings.BAAS_S3_PREFIX = f"in-process-{tmp_path.name}/"
    return str(request.param)


@pytest.fixture
def events() -> Iterator[list[StorageEvent]]:
    seen: list[StorageEvent] = []

    def receive(sender: Any, *, event: StorageEvent, **kwargs: Any) -> None:
        seen.append(event)

    storage_object_changed.connect(receive)
    yield seen
    storage_object_changed.disconnect(receive)


def test_events_follow_commits_only(
    backend: str, secret_api: Api, public_api: Api, events: list[StorageEvent], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_api.post("/v1/projects/alpha-app/buckets", {"name": "files", "maxFileSize": 100}).status == 201
        created = secret_api.put(f"{BASE}/a/b.txt", raw=b"hello", content_type="text/plain", headers={"X-Baas-Meta-K": "v"})
        assert created.status == 201, created.body
    assert [(e.type, e.project_id, e.bucket, e.path) for e in events] == [("object.finalized", "alpha-app", "files", "a/b.txt")]
    assert events[0].object == created.body and events[0].id

    with django_capture_on_commit_callbacks(execute=True):
        assert public_api.put(f"{BASE}/a/c.txt", raw=b"denied").status == 403  # no rules: denied
        assert secret_api.put(f"{BASE}/a/big", raw=b"x" * 101).error_code == "payload_too_large"
        assert secret_api.put(f"{BASE}/a/b.txt", raw=b"x", headers={"If-None-Match": "*"}).status == 409
    assert len(events) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert secret_api.put(f"{BASE}/a/b.txt", raw=b"hello again", content_type="text/plain").status == 200
        assert secret_api.delete(f"{BASE}/a/b.txt").status == 204
        assert secret_api.delete(f"{BASE}/a/b.txt").status == 204  # already gone: no event
    assert [e.type for e in events] == ["object.finalized", "object.finalized", "object.deleted"]
    assert events[1].object["size"] == 11 and events[2].object["sha256"] == hashlib.sha256(b"hello again").hexdigest()
    assert secret_api.get("/v1/projects/alpha-app/storage/usage").body == {"bytes": 0, "objects": 0}


def test_object_calls_through_django(backend: str, secret_api: Api, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_api.post("/v1/projects/alpha-app/buckets", {"name": "files"}).status == 201
        data = bytes(range(256)) * 4096
        created = secret_api.put(f"{BASE}/dir/blob.bin", raw=data, content_type="application/octet-stream")
        assert created.status == 201 and created.body["sha256"] == hashlib.sha256(data).hexdigest()
        got = secret_api.get(f"{BASE}/dir/blob.bin")
        assert got.status == 200 and got.body == data and got.headers["content-length"] == str(len(data))
        assert got.headers["x-content-type-options"] == "nosniff"
        ranged = secret_api.get(f"{BASE}/dir/blob.bin", headers={"Range": "bytes=10-19"})
        assert ranged.status == 206 and ranged.body == data[10:20]
        assert secret_api.get(f"{BASE}/dir/blob.bin", headers={"If-None-Match": created.headers["etag"]}).status == 304
        assert secret_api.get(f"{BASE}/dir/blob.bin?meta=1").body == created.body
        listing = secret_api.get(f"{BASE}?delimiter=/").body
        assert listing == {"objects": [], "prefixes": ["dir/"], "nextCursor": None}
        assert secret_api.get(f"{BASE}/%2E%2E/x").error_code == "invalid_argument"
        assert secret_api.get(f"{BASE}/a%0Ab").error_code == "invalid_argument"
        assert secret_api.delete(f"{BASE}/dir/blob.bin").status == 204
        assert secret_api.get(f"{BASE}/dir/blob.bin").status == 404


def test_events_are_on_the_change_log_only_when_committed(backend: str, secret_api: Api, public_api: Api) -> None:
    from projects.documents.changelog import changelog_sequence, changes_after

    assert secret_api.post("/v1/projects/alpha-app/buckets", {"name": "files", "maxFileSize": 100}).status == 201
    assert secret_api.put(f"{BASE}/a/b.txt", raw=b"hello", content_type="text/plain").status == 201
    assert public_api.put(f"{BASE}/a/c.txt", raw=b"denied").status == 403
    assert secret_api.put(f"{BASE}/a/big", raw=b"x" * 101).error_code == "payload_too_large"
    assert secret_api.delete(f"{BASE}/a/b.txt").status == 204
    changelog_sequence()
    logged = [entry for entry in changes_after(project_id="alpha-app", seq=0) if entry.collection == "$storage"]
    assert [(entry.op, (entry.data or entry.before)["type"], (entry.data or entry.before)["path"]) for entry in logged] == [
        ("create", "object.finalized", "a/b.txt"),
        ("delete", "object.deleted", "a/b.txt"),
    ]
    assert logged[0].doc_id == logged[1].doc_id  # one subject per object path
    assert logged[0].data["object"]["size"] == 5
