"""Presigned direct uploads against the real S3 endpoint the suite runs (and their
refusal on the local backend): the bytes go to S3, the row only comes from finalize.

The moto server used by default does not enforce POST policies (conditions, expiry or
signature), so each refusal is asserted where it must happen whatever the endpoint:
S3 refuses, or finalize does and deletes the bytes. The policy itself is checked too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any

import pytest
import requests

from tests.storage.conftest import Http, StorageTarget, bucket_create, error_of, object_url, objects_url
from tests.storage.test_objects import put

OWNER_ONLY = 'auth != null && request.path.startsWith("users/" + auth.uid + "/")'


def start(http: Http, path: str, **body: Any) -> requests.Response:
    return http.post(object_url(path) + ":upload", json=body)


def finalize(http: Http, path: str, token: str) -> requests.Response:
    return http.post(object_url(path) + ":finalize", json={"upload": token})


def send(form: dict[str, Any], data: bytes, content_type: str | None = None) -> requests.Response:
    """What a browser does with the form: its fields, then the file."""
    fields = dict(form["fields"])
    if content_type is not None:
        fields["Content-Type"] = content_type
    return requests.post(form["url"], data=fields, files={form["fileField"]: ("blob", data, fields["Content-Type"])}, timeout=30)


def policy_of(form: dict[str, Any]) -> dict[str, Any]:
    policy = form["fields"]["policy"]
    return dict(json.loads(base64.b64decode(policy + "=" * (-len(policy) % 4))))


# Direct uploads are S3 only; the local backend's refusal is tested on its own below.
s3_only = pytest.mark.parametrize("target", ["s3"], indirect=True)


@pytest.fixture
def s3(target: StorageTarget) -> StorageTarget:
    assert target.backend == "s3"
    return target


def test_direct_upload_is_refused_on_the_local_backend(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin)
    answer = start(admin, "a.txt", size=1, contentType="text/plain")
    if target.backend == "s3":
        assert answer.status_code == 200, answer.text
        return
    assert error_of(answer) == (412, "failed_precondition")
    assert error_of(finalize(admin, "a.txt", "x.y")) == (412, "failed_precondition")


@s3_only
def test_full_flow_with_user_rules(s3: StorageTarget, admin: Http, app: Http, project: Any, enduser_token: Any) -> None:
    bucket_create(admin, rules={"read": OWNER_ONLY, "write": OWNER_ONLY}, maxFileSize=1000, allowedContentTypes=["image/*"])
    ada, bob = app.as_user(enduser_token(project, "ada")), app.as_user(enduser_token(project, "bob"))
    data = b"\x89PNG" + bytes(range(200))
    digest = hashlib.sha256(data).hexdigest()

    # Rules, type and size are decided before any URL exists.
    assert error_of(start(bob, "users/ada/p.png", size=len(data), contentType="image/png")) == (403, "permission_denied")
    assert error_of(start(ada, "users/ada/p.png", size=len(data), contentType="text/html")) == (415, "unsupported_media_type")
    assert error_of(start(ada, "users/ada/p.png", size=1001, contentType="image/png")) == (413, "payload_too_large")
    for bad in ({"contentType": "image/png"}, {"size": -1}, {"size": "3"}, {"size": 3, "sha256": "xyz"}, {"size": 3, "bogus": 1},
                {"size": 3, "expiresIn": 0}):  # fmt: skip
        assert error_of(start(ada, "users/ada/p.png", **bad)) == (400, "invalid_argument"), bad
    assert error_of(start(ada, "users/ada/\x01.png", size=3)) == (400, "invalid_argument")

    form = start(ada, "users/ada/p.png", size=len(data), contentType="image/png", sha256=digest, metadata={"kind": "photo"}).json()
    assert form["method"] == "POST" and form["fileField"] == "file" and form["expireTime"].endswith("Z")
    conditions = policy_of(form)["conditions"]
    assert ["content-length-range", len(data), len(data)] in conditions and {"Content-Type": "image/png"} in conditions
    key = form["fields"]["key"]
    assert key.startswith(s3.env["BAAS_S3_PREFIX"] + "projects/alpha-app/")

    # Not finalized yet: no row, nothing listed, not downloadable.
    assert send(form, data).status_code in (200, 201, 204)
    assert admin.get(objects_url()).json()["objects"] == []
    assert error_of(admin.get(object_url("users/ada/p.png"))) == (404, "not_found")
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": 0, "objects": 0}

    # Only the caller who started it may finalize it.
    assert error_of(finalize(bob, "users/ada/p.png", form["upload"])) == (403, "permission_denied")
    done = finalize(ada, "users/ada/p.png", form["upload"])
    assert done.status_code == 201, done.text
    meta = done.json()
    assert meta["size"] == len(data) and meta["sha256"] == digest and meta["contentType"] == "image/png"
    assert meta["owner"] == "ada" and meta["metadata"] == {"kind": "photo"} and done.headers["etag"] == f'"{digest}"'
    assert ada.get(object_url("users/ada/p.png")).content == data
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": len(data), "objects": 1}
    # Repeating it is harmless; a tampered token is not accepted.
    again = finalize(ada, "users/ada/p.png", form["upload"])
    assert again.status_code == 200 and again.json() == meta
    body, mac = form["upload"].split(".")
    assert error_of(finalize(ada, "users/ada/p.png", body + "." + "0" * 64)) == (403, "permission_denied")
    assert error_of(finalize(ada, "users/ada/q.png", form["upload"])) == (403, "permission_denied")
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": len(data), "objects": 1}
    assert len(s3.keys("projects/alpha-app/")) == 1


def _refused_by_s3_or_finalize(s3: StorageTarget, admin: Http, path: str, form: dict[str, Any], sent: requests.Response,
                               expected: tuple[int, str]) -> None:  # fmt: skip
    if sent.status_code >= 400:  # an endpoint that enforces the policy
        assert error_of(finalize(admin, path, form["upload"])) == (404, "not_found")
    else:
        assert error_of(finalize(admin, path, form["upload"])) == expected
    assert s3.keys("projects/alpha-app/") == []
    assert error_of(admin.get(object_url(path), params={"meta": "1"})) == (404, "not_found")
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": 0, "objects": 0}


@s3_only
def test_too_large_is_refused(s3: StorageTarget, admin: Http) -> None:
    bucket_create(admin, maxFileSize=100)
    form = start(admin, "big.bin", size=10).json()
    _refused_by_s3_or_finalize(s3, admin, "big.bin", form, send(form, b"x" * 101), (413, "payload_too_large"))
    form = start(admin, "short.bin", size=10).json()
    _refused_by_s3_or_finalize(s3, admin, "short.bin", form, send(form, b"x" * 9), (400, "invalid_argument"))


@s3_only
def test_wrong_type_is_refused(s3: StorageTarget, admin: Http) -> None:
    bucket_create(admin, allowedContentTypes=["image/*"])
    form = start(admin, "a.png", size=4, contentType="image/png").json()
    sent = send(form, b"<h1>", content_type="text/html")
    _refused_by_s3_or_finalize(s3, admin, "a.png", form, sent, (415, "unsupported_media_type"))


@s3_only
def test_wrong_sha256_is_refused(s3: StorageTarget, admin: Http) -> None:
    bucket_create(admin)
    form = start(admin, "a.bin", size=3, sha256=hashlib.sha256(b"abc").hexdigest()).json()
    _refused_by_s3_or_finalize(s3, admin, "a.bin", form, send(form, b"abd"), (400, "invalid_argument"))


@s3_only
def test_expired_form(s3: StorageTarget, admin: Http) -> None:
    bucket_create(admin)
    form = start(admin, "late.bin", size=3, expiresIn=1).json()
    time.sleep(4.2)  # past the expiry and the allowed clock skew, by whole seconds of S3's clock
    _refused_by_s3_or_finalize(s3, admin, "late.bin", form, send(form, b"abc"), (403, "permission_denied"))


@s3_only
def test_finalize_without_an_upload_is_a_404_and_leaves_no_row(s3: StorageTarget, admin: Http) -> None:
    bucket_create(admin)
    form = start(admin, "never.bin", size=3).json()
    assert error_of(finalize(admin, "never.bin", form["upload"])) == (404, "not_found")
    for bad in ({}, {"upload": 5}, {"upload": "nonsense"}):
        response = admin.post(object_url("never.bin") + ":finalize", json=bad)
        assert error_of(response)[0] in (400, 403), bad
    assert error_of(admin.post(object_url("never.bin") + ":finalize", json={"upload": form["upload"], "x": 1})) == (
        400, "invalid_argument")  # fmt: skip
    assert admin.get(objects_url()).json()["objects"] == []
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": 0, "objects": 0}


@s3_only
def test_cross_project_isolation(s3: StorageTarget, admin: Http, other_admin: Http) -> None:
    bucket_create(admin)
    bucket_create(other_admin, project="beta-app")
    form = start(admin, "mine.bin", size=3).json()
    assert send(form, b"abc").status_code < 300
    # Another project's secret key can neither finalize this upload in its own bucket nor in ours.
    other_path = "/v1/projects/beta-app/buckets/files/objects/mine.bin:finalize"
    assert error_of(other_admin.post(other_path, json={"upload": form["upload"]})) == (403, "permission_denied")
    assert error_of(other_admin.post(object_url("mine.bin") + ":finalize", json={"upload": form["upload"]}))[0] in (401, 403)
    assert other_admin.get(objects_url(project="beta-app")).json()["objects"] == []
    theirs = other_admin.post("/v1/projects/beta-app/buckets/files/objects/theirs.bin:upload", json={"size": 3})
    assert theirs.json()["fields"]["key"].startswith(s3.env["BAAS_S3_PREFIX"] + "projects/beta-app/")
    assert finalize(admin, "mine.bin", form["upload"]).status_code == 201
    assert put(admin, "other.bin", b"x").status_code == 201


@s3_only
def test_the_sweep_deletes_the_bytes_of_uploads_never_finalized(s3: StorageTarget, admin: Http) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from storage.models import DirectUpload
    from storage.sweep import DIRECT_MARGIN, direct_uploads_sweep

    bucket_create(admin)
    kept_form = start(admin, "kept.bin", size=3).json()
    assert send(kept_form, b"abc").status_code < 300
    assert finalize(admin, "kept.bin", kept_form["upload"]).status_code == 201
    abandoned = start(admin, "abandoned.bin", size=4).json()
    assert send(abandoned, b"lost").status_code < 300
    pending = start(admin, "pending.bin", size=2).json()
    assert send(pending, b"ok").status_code < 300
    stored_keys = set(s3.keys("projects/alpha-app/"))
    assert len(stored_keys) == 3
    # Only the uploads not finalized are tracked, each until finalize would refuse it.
    rows = {row.key: row for row in DirectUpload.objects.all()}
    assert set(rows) == {abandoned["fields"]["key"].removeprefix(s3.env["BAAS_S3_PREFIX"]),
                         pending["fields"]["key"].removeprefix(s3.env["BAAS_S3_PREFIX"])}  # fmt: skip
    abandoned_key = abandoned["fields"]["key"].removeprefix(s3.env["BAAS_S3_PREFIX"])
    # Nothing is due yet: the sweep deletes nothing.
    assert direct_uploads_sweep(backend=s3.store()) == 0
    assert set(s3.keys("projects/alpha-app/")) == stored_keys
    # Past the abandoned one's deadline (and the margin), only its bytes go.
    later = rows[abandoned_key].finalize_by + DIRECT_MARGIN + timedelta(seconds=1)
    DirectUpload.objects.filter(key=abandoned_key).update(finalize_by=timezone.now() - DIRECT_MARGIN - timedelta(seconds=1))
    assert later > timezone.now()
    assert direct_uploads_sweep(backend=s3.store()) == 1
    assert set(s3.keys("projects/alpha-app/")) == stored_keys - {abandoned_key}
    assert list(DirectUpload.objects.values_list("key", flat=True)) == [pending["fields"]["key"].removeprefix(s3.env["BAAS_S3_PREFIX"])]
    # The pending one can still be finalized, and then it is no longer tracked.
    assert finalize(admin, "pending.bin", pending["upload"]).status_code == 201
    assert not DirectUpload.objects.exists()
    assert admin.get(object_url("kept.bin")).content == b"abc" and admin.get(object_url("pending.bin")).content == b"ok"


@s3_only
def test_the_sweep_leaves_bytes_an_object_row_took(s3: StorageTarget, admin: Http) -> None:
    """A crash between finalize's commit and its clean-up leaves a row behind: the bytes stay."""
    from django.utils import timezone

    from storage.models import DirectUpload
    from storage.sweep import direct_uploads_sweep

    bucket_create(admin)
    form = start(admin, "a.bin", size=3).json()
    assert send(form, b"abc").status_code < 300
    assert finalize(admin, "a.bin", form["upload"]).status_code == 201
    key = form["fields"]["key"].removeprefix(s3.env["BAAS_S3_PREFIX"])
    DirectUpload.objects.create(key=key, project_id="alpha-app", finalize_by=timezone.now() - timezone.timedelta(days=1))
    assert direct_uploads_sweep(backend=s3.store()) == 0
    assert not DirectUpload.objects.exists()
    assert admin.get(object_url("a.bin")).content == b"abc"


def test_the_sweep_removes_uploads_a_crashed_server_left(target: StorageTarget, admin: Http) -> None:
    from storage.sweep import stale_uploads_sweep

    bucket_create(admin)
    store = target.store()
    if target.backend == "local":
        incoming = store.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        (incoming / "upload-old").write_bytes(b"x")
        (incoming / "upload-new").write_bytes(b"y")
        old = time.time() - 2 * 3600
        os.utime(incoming / "upload-old", (old, old))
        young_enough, old_enough = 3 * 3600, 3600
    else:
        for name in ("a", "b"):
            store.client.create_multipart_upload(Bucket=store.config.bucket, Key=store.object_key(f"projects/alpha-app/1/{name[0] * 32}"))
        time.sleep(1.5)
        # Ages as the endpoint reports them (some test servers report a fixed initiation date).
        listed = store.client.list_multipart_uploads(Bucket=store.config.bucket, Prefix=store.config.prefix)["Uploads"]
        age = time.time() - max(upload["Initiated"].timestamp() for upload in listed)
        assert age >= 1
        young_enough, old_enough = age + 3600, age - 1
    before = len(target.unfinished())
    assert before == 2
    # Younger than the threshold: left alone (a live upload may be writing it).
    assert stale_uploads_sweep(backend=store, older_than_seconds=young_enough) == 0
    assert len(target.unfinished()) == 2
    removed = stale_uploads_sweep(backend=store, older_than_seconds=old_enough)
    assert removed == (1 if target.backend == "local" else 2)
    assert len(target.unfinished()) == 2 - removed
    assert put(admin, "after.bin", b"fine").status_code == 201
