"""Small helpers shared by the end-user auth tests."""

from __future__ import annotations

from typing import Any

AUTH = "/v1/projects/alpha-app/auth"
BETA_AUTH = "/v1/projects/beta-app/auth"
PASSWORD = "correct-Horse-battery-9"
SESSION_KEYS = {"user", "accessToken", "refreshToken", "expiresIn"}


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, (response.status, response.body)
    assert set(response.body) == {"error"}
    body = response.body["error"]
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def signup(client: Any, email: str = "ada@example.com", password: str = PASSWORD, base: str = AUTH, **extra: Any) -> dict[str, Any]:
    response = client.with_bearer(None).post(f"{base}/signup", {"email": email, "password": password, **extra})
    assert response.status == 201, response.body
    assert set(response.body) == SESSION_KEYS
    return response.body  # type: ignore[no-any-return]
