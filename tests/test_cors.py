"""CORS on every transport that serves the API: the lean edge (documents), the storage
transport (objects) and Django (auth, buckets, collections), over a real server process,
plus Django's own transport through the test client. Never on the admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Api

P = "alpha-app"
APP = "https://app.example"
EXPOSED = {"accept-ranges", "content-disposition", "content-length", "content-range", "etag", "location",
           "retry-after", "x-request-id"}  # fmt: skip


ALLOWED = ["accept", "accept-encoding", "authorization", "content-type", "if-match", "if-none-match", "if-range", "range",
           "x-api-key", "x-baas-owner", "x-request-id", "x-requested-with"]  # fmt: skip


def exposed(response: requests.Response) -> set[str]:
    return {name.strip().lower() for name in response.headers["Access-Control-Expose-Headers"].split(",")}


def preflight(url: str, method: str, headers: str, origin: str = APP) -> requests.Response:
    return requests.options(
        url,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
        timeout=10,
    )


@pytest.fixture
def live(asgi_server_factory: Any, tmp_path: Path, project: Any) -> Any:
    server = asgi_server_factory(BAAS_STORAGE_LOCAL_DIR=str(tmp_path / "objects"))
    base = f"{server.url}/v1/projects/{P}"
    secret = {"X-Api-Key": project.secret_key}
    assert requests.post(f"{base}/buckets", json={"name": "files"}, headers=secret, timeout=10).status_code == 201
    assert requests.put(f"{base}/collections/notes/documents/a", json={"data": {"n": 1}}, headers=secret,
                        timeout=10).status_code == 201  # fmt: skip
    return server


# (transport, method, path under the project) for one call of each transport
CALLS = [
    ("edge", "PATCH", "/collections/notes/documents/a"),
    ("storage", "PUT", "/buckets/files/objects/pics/a.txt"),
    ("django", "POST", "/auth/signup"),
]


@pytest.mark.parametrize(("transport", "method", "path"), CALLS, ids=[c[0] for c in CALLS])
def test_preflight_allows_the_api_headers(live: Any, transport: str, method: str, path: str) -> None:
    response = preflight(f"{live.url}/v1/projects/{P}{path}", method, "x-api-key,authorization,content-type,if-match")
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert method in {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-api-key", "authorization", "content-type", "if-match"} <= allowed
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.content == b""


def test_preflight_for_object_metadata_headers_echoes_them(live: Any) -> None:
    response = preflight(f"{live.url}/v1/projects/{P}/buckets/files/objects/a.txt", "PUT", "X-Baas-Meta-Caption")
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert "x-baas-meta-caption" in allowed
    bad = preflight(f"{live.url}/v1/projects/{P}/buckets/files/objects/a.txt", "PUT", "x-ok, x-b\u00e9")
    assert {h.strip() for h in bad.headers["Access-Control-Allow-Headers"].split(",")} == set(ALLOWED)


def test_actual_responses_expose_the_headers_apps_read(live: Any, project: Any) -> None:
    base = f"{live.url}/v1/projects/{P}"
    key = {"X-Api-Key": project.secret_key, "Origin": APP}
    doc = requests.get(f"{base}/collections/notes/documents/a", headers=key, timeout=10)
    assert doc.status_code == 200 and doc.headers["ETag"] == '"1"'
    assert doc.headers["Access-Control-Allow-Origin"] == "*" and exposed(doc) == EXPOSED
    put = requests.put(f"{base}/buckets/files/objects/a.txt", data=b"hello", headers={**key, "Content-Type": "text/plain"},
                       timeout=10)  # fmt: skip
    assert put.status_code == 201 and put.headers["Access-Control-Allow-Origin"] == "*" and exposed(put) == EXPOSED
    ranged = requests.get(f"{base}/buckets/files/objects/a.txt", headers={**key, "Range": "bytes=1-2"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == b"el"
    assert ranged.headers["Access-Control-Allow-Origin"] == "*" and ranged.headers["Content-Range"] == "bytes 1-2/5"
    listing = requests.get(f"{base}/buckets", headers=key, timeout=10)
    assert listing.status_code == 200 and listing.headers["Access-Control-Allow-Origin"] == "*"
    assert exposed(listing) == EXPOSED
    # errors are readable by the page too, from every transport
    for url in (f"{base}/collections/notes/documents/a", f"{base}/buckets/files/objects/a.txt", f"{base}/buckets"):
        denied = requests.get(url, headers={"X-Api-Key": "pk_wrong", "Origin": APP}, timeout=10)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthenticated"
        assert denied.headers["Access-Control-Allow-Origin"] == "*"


def test_no_origin_no_cors_headers(live: Any, project: Any) -> None:
    base = f"{live.url}/v1/projects/{P}"
    for url in (f"{base}/collections/notes/documents/a", f"{base}/buckets/files/objects/none", f"{base}/buckets"):
        response = requests.get(url, headers={"X-Api-Key": project.secret_key}, timeout=10)
        assert "Access-Control-Allow-Origin" not in response.headers


def test_admin_is_never_cors(live: Any) -> None:
    response = requests.get(f"{live.url}/admin/login/", headers={"Origin": APP}, timeout=10)
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
    response = preflight(f"{live.url}/admin/login/", "POST", "content-type")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cross_project_call_stays_refused_and_changes_nothing(live: Any, project: Any, other_project: Any) -> None:
    """CORS lets a page read the answer; it gives another project's key no power here."""
    base = f"{live.url}/v1/projects/{P}"
    foreign = {"X-Api-Key": other_project.secret_key, "Origin": APP}
    patch = requests.patch(f"{base}/collections/notes/documents/a", json={"data": {"n": 9}}, headers=foreign, timeout=10)
    assert patch.status_code == 401 and patch.headers["Access-Control-Allow-Origin"] == "*"
    upload = requests.put(f"{base}/buckets/files/objects/b.txt", data=b"x", headers=foreign, timeout=10)
    assert upload.status_code == 401 and upload.headers["Access-Control-Allow-Origin"] == "*"
    own = {"X-Api-Key": project.secret_key}
    assert requests.get(f"{base}/collections/notes/documents/a", headers=own, timeout=10).json()["data"] == {"n": 1}
    assert requests.get(f"{base}/buckets/files/objects/b.txt", headers=own, timeout=10).status_code == 404


def test_allowed_origins_from_the_setting(asgi_server_factory: Any, tmp_path: Path, project: Any) -> None:
    server = asgi_server_factory(BAAS_STORAGE_LOCAL_DIR=str(tmp_path / "objects"),
                                 BAAS_CORS_ALLOWED_ORIGINS=f"{APP}, http://localhost:3000")  # fmt: skip
    base = f"{server.url}/v1/projects/{P}"
    urls = [f"{base}/collections/notes/documents/a", f"{base}/buckets/files/objects/a.txt", f"{base}/buckets"]
    for url in urls:
        allowed = requests.get(url, headers={"X-Api-Key": project.secret_key, "Origin": APP}, timeout=10)
        assert allowed.headers["Access-Control-Allow-Origin"] == APP
        assert "origin" in allowed.headers["Vary"].lower()
        other = requests.get(url, headers={"X-Api-Key": project.secret_key, "Origin": "https://evil.example"}, timeout=10)
        assert "Access-Control-Allow-Origin" not in other.headers
        refused = preflight(url, "GET", "x-api-key", origin="https://evil.example")
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert preflight(url, "GET", "x-api-key").headers["Access-Control-Allow-Origin"] == APP


def test_django_transport_of_the_edge_routes(secret_api: Api) -> None:
    """WSGI deployments serve the edge routes inside Django: the middleware covers them."""
    secret_api.put("/v1/projects/alpha-app/collections/notes/documents/a", {"data": {"n": 1}})
    response = secret_api.get("/v1/projects/alpha-app/collections/notes/documents/a", headers={"Origin": APP})
    assert response.status == 200 and response.headers["access-control-allow-origin"] == "*"
    assert "etag" in response.headers["access-control-expose-headers"].lower()
