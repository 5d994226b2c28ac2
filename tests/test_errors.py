"""Every error the stack can raise leaves in the spec's shape, never as a 500 page."""

from __future__ import annotations

from typing import Any

import pytest
import requests


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.body if hasattr(response, "body") else response.json()
    status_code = response.status if hasattr(response, "status") else response.status_code
    assert status_code == status, body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_malformed_json_is_400(secret_api: Any) -> None:
    response = secret_api.post("/v1/projects/alpha-app/keys", raw=b'{"kind": "secret",')
    error = assert_error(response, 400, "invalid_argument")
    assert "Malformed JSON" in error["message"]
    assert error["details"]["position"] == 18


def test_unknown_route_is_404(api: Any) -> None:
    error = assert_error(api.get("/v1/no/such/route"), 404, "not_found")
    assert "/v1/no/such/route" in error["message"]


def test_unknown_key_id_is_404(secret_api: Any) -> None:
    assert_error(secret_api.delete("/v1/projects/alpha-app/keys/999999"), 404, "not_found")


def test_wrong_method_is_405(secret_api: Any) -> None:
    response = secret_api.request("PATCH", "/v1/projects/alpha-app", {})
    assert_error(response, 405, "method_not_allowed")


def test_wrong_content_type_is_415(secret_api: Any) -> None:
    response = secret_api.post("/v1/projects/alpha-app/keys", raw=b"kind=secret", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_unauthenticated_is_401_and_forbidden_is_403(api: Any, project: Any) -> None:
    assert_error(api.get("/v1/projects/alpha-app/keys"), 401, "unauthenticated")
    assert_error(api.with_key(project.publishable_key).get("/v1/projects/alpha-app/keys"), 403, "permission_denied")


def test_body_over_the_limit_is_413_through_the_parser(secret_api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"kind": "secret", "name": "' + b"x" * 5000 + b'"}'
    error = assert_error(secret_api.post("/v1/projects/alpha-app/keys", raw=body), 413, "payload_too_large")
    assert error["details"]["limitBytes"] == 1000


def test_rate_limit_is_429_with_retry_after(secret_api: Any, settings: Any) -> None:
    settings.BAAS_RATE_LIMIT_PER_KEY = 2
    settings.BAAS_RATE_LIMIT_WINDOW = 60
    assert secret_api.get("/v1/projects/alpha-app").status == 200
    assert secret_api.get("/v1/projects/alpha-app").status == 200
    response = secret_api.get("/v1/projects/alpha-app")
    error = assert_error(response, 429, "resource_exhausted")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert error["details"]["retryAfterSeconds"] == retry_after


def test_every_response_has_a_request_id(api: Any, secret_api: Any) -> None:
    first = api.get("/v1/projects/alpha-app")
    second = secret_api.get("/v1/projects/alpha-app")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    echoed = secret_api.get("/v1/projects/alpha-app", headers={"X-Request-Id": "client-abc.123"})
    assert echoed.headers["x-request-id"] == "client-abc.123"
    # An id that could inject into logs is replaced.
    replaced = secret_api.get("/v1/projects/alpha-app", headers={"X-Request-Id": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


# --- through the real ASGI server ------------------------------------------------------------


def test_body_far_over_the_limit_is_413_through_the_server(asgi_server: Any, project: Any) -> None:
    """A 64 MB body is refused from its Content-Length before Django parses any of it."""
    response = requests.post(
        asgi_server.url + "/v1/projects/alpha-app/keys",
        data=b"{" * (64 * 1024 * 1024),
        headers={"X-Api-Key": project.secret_key, "Content-Type": "application/json"},
        timeout=60,
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limitBytes"] == 2 * 1024 * 1024


def test_live_errors_keep_the_shape(asgi_server: Any, project: Any) -> None:
    url = asgi_server.url
    assert_error(requests.get(url + "/v1/projects/alpha-app", timeout=5), 401, "unauthenticated")
    assert_error(requests.get(url + "/nowhere", timeout=5), 404, "not_found")
    response = requests.post(
        url + "/v1/projects/alpha-app/keys",
        data=b"{oops",
        headers={"X-Api-Key": project.secret_key, "Content-Type": "application/json"},
        timeout=5,
    )
    assert_error(response, 400, "invalid_argument")
    # Chunked bodies carry no Content-Length: the parser's limit still applies.
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65536

    response = requests.post(
        url + "/v1/projects/alpha-app/keys",
        data=chunks(),
        headers={"X-Api-Key": project.secret_key, "Content-Type": "application/json"},
        timeout=10,
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/v1/projects/alpha-app", "/v1/projects/alpha-app/keys"])
def test_head_and_options_do_not_500(secret_api: Any, path: str) -> None:
    assert secret_api.request("OPTIONS", path).status in (200, 204)
    assert secret_api.request("HEAD", path).status in (200, 405)


NUL_INPUTS = [
    ("POST", "/v1/projects/alpha-app/keys", b'{"kind": "secret", "name": "a\\u0000b"}', "application/json"),
    ("POST", "/v1/projects/alpha-app/auth/password-reset", b'{"email": "a\\u0000@example.com"}', "application/json"),
    ("POST", "/v1/projects/alpha-app/users", b'{"uid": "u1", "data": {"k\\u0000": 1}}', "application/json"),
    ("GET", "/v1/projects/alpha-app/users?search=a%00b", None, ""),
    ("GET", "/v1/projects/alpha-app/users/a%00b", None, ""),
    ("GET", "/v1/projects/alpha-app/buckets/files/objects?prefix=a%00", None, ""),
    ("GET", "/v1/projects/alpha-app/buckets/files/objects?cursor=%00", None, ""),
    ("POST", "/v1/projects/alpha-app/buckets/files/objects/a.txt:sign", b'{"expiresIn\\u0000": 1}', "application/json"),
    ("POST", "/v1/projects/alpha-app/buckets/files/objects",
     b'--b\r\nContent-Disposition: form-data; name="path"\r\n\r\na.txt\r\n'
     b'--b\r\nContent-Disposition: form-data; name="owner"\r\n\r\nu\x00\r\n'
     b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n',
     "multipart/form-data; boundary=b"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "content_type"), NUL_INPUTS)
def test_a_nul_character_in_any_input_is_400(secret_api: Any, method: str, path: str, body: bytes | None, content_type: str) -> None:
    """No database column can hold U+0000 (PostgreSQL refuses it): every input that could
    carry one (JSON strings and keys, query and path parameters, form fields) is refused
    up front, in both modes alike."""
    assert secret_api.post("/v1/projects/alpha-app/buckets", {"name": "files"}).status == 201
    kwargs: dict[str, Any] = {} if body is None else {"raw": body, "content_type": content_type}
    error = assert_error(secret_api.request(method, path, **kwargs), 400, "invalid_argument")
    assert "NUL" in error["message"], error
    assert secret_api.get("/v1/projects/alpha-app/users").body["users"] == []
    assert secret_api.get("/v1/projects/alpha-app/buckets/files/objects").body["objects"] == []
