"""Who may touch which object: rules with real end-user tokens, signed URLs, and the
walls between projects, over HTTP on both backends."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import requests

from tests.storage.conftest import Http, StorageTarget, bucket_create, error_of, object_url, objects_url
from tests.storage.test_objects import put

OWNER_ONLY = 'auth != null && request.path.startsWith("users/" + auth.uid + "/")'


def test_owner_only_folders_with_real_user_tokens(admin: Http, app: Http, project: Any, enduser_token: Any) -> None:
    bucket_create(admin, rules={"read": OWNER_ONLY, "write": OWNER_ONLY})
    ada, bob = app.as_user(enduser_token(project, "ada")), app.as_user(enduser_token(project, "bob"))
    created = put(ada, "users/ada/cv.pdf", b"ada's", "application/pdf")
    assert created.status_code == 201 and created.json()["owner"] == "ada"
    assert put(bob, "users/bob/a.txt", b"bob's", "text/plain").status_code == 201
    assert put(bob, "users/bob/b.txt", b"bob's too", "text/plain").status_code == 201

    # Someone else's folder: no write, no read, no delete, no signing; 403 whether or not it exists.
    for path in ("users/ada/cv.pdf", "users/ada/missing.txt"):
        assert error_of(put(bob, path, b"mine now")) == (403, "permission_denied")
        assert error_of(bob.get(object_url(path))) == (403, "permission_denied")
        assert error_of(bob.get(object_url(path), params={"meta": "1"})) == (403, "permission_denied")
        assert error_of(bob.delete(object_url(path))) == (403, "permission_denied")
        assert error_of(bob.post(object_url(path) + ":sign", json={})) == (403, "permission_denied")
    assert bob.head(object_url("users/ada/cv.pdf")).status_code == 403
    multipart = bob.post(objects_url(), data={"path": "users/ada/x"}, files={"file": ("x", b"1")})
    assert error_of(multipart) == (403, "permission_denied")
    # Signed out: nothing.
    assert error_of(app.get(object_url("users/ada/cv.pdf"))) == (403, "permission_denied")
    assert error_of(put(app, "users/ada/y", b"1")) == (403, "permission_denied")

    # Lists hold only what the rule lets each caller see, in full pages.
    assert [o["path"] for o in bob.get(objects_url()).json()["objects"]] == ["users/bob/a.txt", "users/bob/b.txt"]
    page = bob.get(objects_url(), params={"limit": 1}).json()
    assert [o["path"] for o in page["objects"]] == ["users/bob/a.txt"] and page["nextCursor"]
    rest = bob.get(objects_url(), params={"limit": 1, "cursor": page["nextCursor"]}).json()
    assert [o["path"] for o in rest["objects"]] == ["users/bob/b.txt"] and rest["nextCursor"] is None
    folders = ada.get(objects_url(), params={"prefix": "users/", "delimiter": "/"}).json()
    assert folders == {"objects": [], "prefixes": ["users/ada/"], "nextCursor": None}
    assert app.get(objects_url()).json()["objects"] == []

    # Their own: everything.
    assert ada.get(object_url("users/ada/cv.pdf")).content == b"ada's"
    assert ada.delete(object_url("users/ada/cv.pdf")).status_code == 204
    assert [o["path"] for o in admin.get(objects_url()).json()["objects"]] == ["users/bob/a.txt", "users/bob/b.txt"]


def test_rules_see_size_type_metadata_and_the_stored_object(admin: Http, app: Http, project: Any, enduser_token: Any) -> None:
    bucket_create(
        admin,
        rules={
            "create": 'request.size <= 10 && request.contentType.startsWith("image/") && request.metadata.kind == "photo"',
            "update": "resource.owner == auth.uid",
            "get": 'resource.metadata.kind == "photo"',
            "delete": "resource.size < 5",
        },
    )
    ada = app.as_user(enduser_token(project, "ada"))
    photo = {"X-Baas-Meta-Kind": "photo"}
    assert put(ada, "a.png", b"12345", "image/png", **photo).status_code == 201
    assert error_of(put(ada, "b.png", b"x" * 11, "image/png", **photo)) == (403, "permission_denied")
    assert error_of(put(ada, "c.txt", b"1", "text/plain", **photo)) == (403, "permission_denied")
    assert error_of(put(ada, "d.png", b"1", "image/png")) == (403, "permission_denied")
    chunked = ada.put(object_url("e.png"), data=iter([b"x" * 6, b"y" * 6]), headers={"Content-Type": "image/png", **photo})
    assert error_of(chunked) == (403, "permission_denied")  # checked once the real size is known
    bob = app.as_user(enduser_token(project, "bob"))
    assert error_of(put(bob, "a.png", b"1", "image/png", **photo)) == (403, "permission_denied")
    assert put(ada, "a.png", b"123456", "image/png", **photo).status_code == 200
    assert bob.get(object_url("a.png")).content == b"123456"
    assert error_of(bob.delete(object_url("a.png"))) == (403, "permission_denied")  # 6 bytes
    assert [o["path"] for o in admin.get(objects_url()).json()["objects"]] == ["a.png"]
    assert error_of(bob.get(objects_url())) == (403, "permission_denied")  # no list rule


def test_missing_rules_deny_and_secret_keys_bypass(admin: Http, app: Http) -> None:
    bucket_create(admin)
    assert error_of(put(app, "a", b"1")) == (403, "permission_denied")
    assert put(admin, "a", b"1").status_code == 201
    assert error_of(app.get(object_url("a"))) == (403, "permission_denied")
    assert error_of(app.get(objects_url())) == (403, "permission_denied")
    assert error_of(app.delete(object_url("a"))) == (403, "permission_denied")
    assert admin.get(object_url("a")).content == b"1"


# --- signed URLs --------------------------------------------------------------------------


def _with_query(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_signed_urls_work_without_keys_until_they_expire(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin)
    assert put(admin, "shared/report.txt", b"quarterly", "text/plain").status_code == 201
    assert put(admin, "shared/other.txt", b"secret", "text/plain").status_code == 201
    signed = admin.post(object_url("shared/report.txt") + ":sign", json={"expiresIn": 600})
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"].replace("http://127.0.0.1:8000", target.url)
    assert signed.json()["expireTime"].endswith("Z")
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.content == b"quarterly"
    assert requests.head(url, timeout=10).headers["content-length"] == "9"
    assert requests.get(url, headers={"Range": "bytes=0-2"}, timeout=10).content == b"qua"

    signature, expires = dict(parse_qsl(urlparse(url).query))["signature"], dict(parse_qsl(urlparse(url).query))["expires"]
    tampered = [
        url.replace("report.txt", "other.txt"),
        url.replace("/buckets/files/", "/buckets/filez/"),
        _with_query(url, expires=str(int(expires) + 3600)),
        _with_query(url, signature=("0" if signature[0] != "0" else "1") + signature[1:]),
        _with_query(url, signature=signature[:-2]),
        _with_query(url, signature=""),
        url.replace("alpha-app", "beta-app"),
    ]
    for bad in tampered:
        assert error_of(requests.get(bad, timeout=10)) == (403, "permission_denied"), bad
    # The signature grants a download, nothing else.
    assert error_of(requests.put(url, data=b"overwritten", timeout=10)) == (403, "permission_denied")
    assert error_of(requests.delete(url, timeout=10)) == (403, "permission_denied")
    assert admin.get(object_url("shared/report.txt")).content == b"quarterly"

    short = admin.post(object_url("shared/report.txt") + ":sign", json={"expiresIn": 1}).json()["url"]
    short = short.replace("http://127.0.0.1:8000", target.url)
    time.sleep(2.1)
    expired = requests.get(short, timeout=10)
    assert error_of(expired) == (403, "permission_denied") and expired.json()["error"]["details"]["reason"] == "expired"
    assert requests.get(url, timeout=10).status_code == 200

    for body in ({"expiresIn": 0}, {"expiresIn": 10**9}, {"expiresIn": "60"}, {"other": 1}):
        assert error_of(admin.post(object_url("shared/report.txt") + ":sign", json=body)) == (400, "invalid_argument")
    assert error_of(admin.post(object_url("shared/none.txt") + ":sign", json={})) == (404, "not_found")
    assert "signature=" not in target.server.log()


def test_presigned_direct_download_in_s3_mode(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin)
    assert put(admin, "p.html", b"<b>hi</b>", "text/html").status_code == 201
    answer = admin.post(object_url("p.html") + ":sign", json={"expiresIn": 60}).json()
    if target.backend == "local":
        assert "directUrl" not in answer
        return
    direct = requests.get(answer["directUrl"], timeout=10)
    assert direct.status_code == 200 and direct.content == b"<b>hi</b>"
    assert direct.headers["content-disposition"].startswith("attachment")


# --- cross-project isolation --------------------------------------------------------------


def test_projects_never_see_each_other(admin: Http, other_admin: Http, target: StorageTarget, project: Any, other_project: Any) -> None:
    """Every call, made with project B's keys against project A's URLs or with B's own
    same-named bucket, changes and reveals nothing of A."""
    bucket_create(admin)
    bucket_create(other_admin, project="beta-app")
    assert put(admin, "private/a.txt", b"A's bytes", "text/plain").status_code == 201
    before_keys = target.keys("projects/alpha-app/")
    usage_before = admin.get("/v1/projects/alpha-app/storage/usage").json()

    b_on_a = other_admin
    calls = [
        ("GET", object_url("private/a.txt"), {}),
        ("HEAD", object_url("private/a.txt"), {}),
        ("GET", objects_url(), {}),
        ("PUT", object_url("private/a.txt"), {"data": b"B"}),
        ("POST", objects_url(), {"files": {"file": ("f", b"B")}, "data": {"path": "private/a.txt"}}),
        ("DELETE", object_url("private/a.txt"), {}),
        ("POST", object_url("private/a.txt") + ":sign", {"json": {}}),
        ("GET", "/v1/projects/alpha-app/buckets", {}),
        ("GET", "/v1/projects/alpha-app/buckets/files", {}),
        ("PATCH", "/v1/projects/alpha-app/buckets/files", {"json": {"rules": {"read": "true"}}}),
        ("DELETE", "/v1/projects/alpha-app/buckets/files", {}),
        ("POST", "/v1/projects/alpha-app/buckets", {"json": {"name": "sneaky"}}),
        ("GET", "/v1/projects/alpha-app/storage/usage", {}),
    ]
    for method, url, kwargs in calls:
        response = b_on_a.request(method, url, **kwargs)
        assert response.status_code == 401, (method, url, response.status_code)
        if method != "HEAD":
            assert error_of(response) == (401, "unauthenticated")

    # B's own bucket of the same name is another key space.
    b_url = object_url("private/a.txt", project="beta-app")
    assert error_of(other_admin.get(b_url)) == (404, "not_found")
    assert other_admin.get(objects_url(project="beta-app")).json()["objects"] == []
    assert other_admin.delete(b_url).status_code == 204
    b_put = other_admin.put(b_url, data=b"B's bytes", headers={"Content-Type": "text/plain"})
    assert b_put.status_code == 201
    assert other_admin.get(b_url).content == b"B's bytes"
    assert other_admin.get("/v1/projects/beta-app/storage/usage").json() == {"bytes": 9, "objects": 1}

    # A is exactly as it was.
    assert admin.get(object_url("private/a.txt")).content == b"A's bytes"
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == usage_before == {"bytes": 9, "objects": 1}
    assert admin.get("/v1/projects/alpha-app/buckets/files").json()["rules"] == {}
    assert [b["name"] for b in admin.get("/v1/projects/alpha-app/buckets").json()["buckets"]] == ["files"]
    assert target.keys("projects/alpha-app/") == before_keys
    assert all(key.startswith("projects/beta-app/") for key in target.keys("projects/beta-"))
    assert len(target.keys("projects/beta-app/")) == 1
