"""End-user auth through the SDK: sessions, anonymous users and linking, sign-out,
automatic refresh ahead of expiry and after a 401, concurrent refreshes, persistence,
and admin calls with a secret key."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from baas_client import (
    AlreadyExists,
    Client,
    FailedPrecondition,
    FileTokenStore,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)

P = "alpha-app"
PASSWORD = "correct-Horse-battery-9"


def test_sign_up_sign_in_profile_and_sign_out(server: Any, app: Client) -> None:
    user = app.auth.sign_up("Ada@Example.com", PASSWORD, display_name="Ada")
    assert user["email"] == "Ada@Example.com" and user["displayName"] == "Ada" and user["anonymous"] is False
    uid = app.auth.uid
    assert uid == user["uid"] and app.auth.current_user == user
    with pytest.raises(AlreadyExists) as taken:
        app.auth.sign_up("ada@example.com", PASSWORD)
    assert taken.value.status == 409
    with pytest.raises(InvalidArgument) as weak:
        app.auth.sign_up("bob@example.com", "123")
    assert weak.value.details["errors"]
    assert app.auth.get_user()["uid"] == uid
    assert app.auth.update_user(display_name="Countess", data={"lang": "en"})["displayName"] == "Countess"
    assert app.auth.current_user["data"] == {"lang": "en"}
    refresh_token = app.auth.session.refresh_token
    app.auth.sign_out()
    assert app.auth.session is None and app.auth.current_user is None
    spent = httpx.post(f"{server.url}/v1/projects/{P}/auth/refresh", json={"refreshToken": refresh_token},
                       headers={"X-Api-Key": app._t.api_key})
    assert spent.status_code == 401
    with pytest.raises(Unauthenticated):
        app.auth.get_user()  # nobody signed in
    with pytest.raises(Unauthenticated) as wrong:
        app.auth.sign_in("ada@example.com", "wrong-Password-1")
    assert wrong.value.status == 401 and app.auth.session is None
    assert app.auth.sign_in("ada@example.com", PASSWORD)["uid"] == uid


def test_anonymous_then_link_keeps_the_uid(app: Client) -> None:
    anonymous = app.auth.sign_in_anonymously()
    assert anonymous["anonymous"] is True
    linked = app.auth.link("linked@example.com", PASSWORD)
    assert linked["uid"] == anonymous["uid"] and linked["anonymous"] is False and linked["email"] == "linked@example.com"
    with pytest.raises(FailedPrecondition):
        app.auth.link("again@example.com", PASSWORD)
    assert app.auth.get_user()["email"] == "linked@example.com"


def test_token_is_refreshed_before_it_expires(start: Any, project: Any, make_client: Any) -> None:
    server = start(BAAS_AUTH_ACCESS_TOKEN_LIFETIME="3")
    app = make_client(server, refresh_margin=1)
    changes: list[Any] = []
    app.auth.on_change(lambda session: changes.append(session.access_token if session else None))
    app.auth.sign_up("t@example.com", PASSWORD)
    first = app.auth.session.access_token
    assert app.auth.get_user()["email"] == "t@example.com" and app.auth.session.access_token == first
    time.sleep(2.2)  # within the margin of expiry: the next call refreshes first
    assert app.auth.get_user()["email"] == "t@example.com"
    second = app.auth.session.access_token
    assert second != first and changes == [first, second]


def test_a_401_refreshes_once_and_retries(start: Any, project: Any, make_client: Any) -> None:
    server = start(BAAS_AUTH_ACCESS_TOKEN_LIFETIME="2")
    app = make_client(server, refresh_margin=0)
    app.auth.sign_up("skew@example.com", PASSWORD)
    stale = app.auth.session.access_token
    app.auth.session.expires_at = time.time() + 3600  # a clock that believes the token is fresh
    time.sleep(2.5)
    raw = httpx.get(f"{server.url}/v1/projects/{P}/auth/me",
                    headers={"X-Api-Key": project.publishable_key, "Authorization": f"Bearer {stale}"})
    assert raw.status_code == 401  # the token really expired
    assert app.auth.get_user()["email"] == "skew@example.com"
    assert app.auth.session.access_token != stale


def test_concurrent_callers_share_one_refresh(start: Any, project: Any, make_client: Any) -> None:
    """Refresh tokens work once and reuse revokes the family: eight threads that all find
    the token expiring must cause exactly one refresh."""
    server = start(BAAS_AUTH_ACCESS_TOKEN_LIFETIME="2")
    app = make_client(server, refresh_margin=1)
    app.auth.sign_up("race@example.com", PASSWORD)
    old = app.auth.session.access_token
    time.sleep(1.2)
    tokens: list[str] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        tokens.append(app.auth.access_token())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1 and tokens[0] != old
    app.auth.refresh()  # the family is intact: the newest refresh token still works
    assert app.auth.get_user()["email"] == "race@example.com"


def test_file_token_store_keeps_the_session(server: Any, project: Any, make_client: Any, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    first = make_client(server, token_store=FileTokenStore(path))
    uid = first.auth.sign_up("kept@example.com", PASSWORD)["uid"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = make_client(server, token_store=FileTokenStore(path))
    assert second.auth.uid == uid and second.auth.get_user()["uid"] == uid
    second.auth.sign_out()
    assert not path.exists()
    third = make_client(server, token_store=FileTokenStore(path))
    assert third.auth.session is None


def test_custom_tokens_and_admin_users(admin: Client, app: Client) -> None:
    token = admin.admin.create_custom_token("svc-user", claims={"role": "editor"})
    user = app.auth.sign_in_with_custom_token(token)
    assert user["uid"] == "svc-user" and user["claims"] == {"role": "editor"}
    with pytest.raises(Unauthenticated) as replay:
        app.auth.sign_in_with_custom_token(token)
    assert replay.value.details["reason"] == "reused"
    created = admin.admin.create_user(uid="u-1", email="u1@example.com", password=PASSWORD, displayName="One")
    assert created["uid"] == "u-1"
    assert admin.admin.update_user("u-1", displayName="Uno")["displayName"] == "Uno"
    assert admin.admin.get_user("u-1")["email"] == "u1@example.com"
    assert sorted(u["uid"] for u in admin.admin.iter_users(page_size=1)) == ["svc-user", "u-1"]
    users, cursor = admin.admin.list_users(search="u1@")
    assert [u["uid"] for u in users] == ["u-1"] and cursor is None
    with pytest.raises(PermissionDenied):
        app.admin.list_users()  # a publishable key is not enough
    admin.admin.delete_user("u-1")
    assert [u["uid"] for u in admin.admin.iter_users()] == ["svc-user"]


def test_admin_calls_of_another_project_change_nothing(server: Any, admin: Client, other_project: Any,
                                                      make_client: Any) -> None:
    admin.admin.create_user(uid="stay", email="stay@example.com")
    intruder = make_client(server, other_project.secret_key)
    for call in (lambda: intruder.admin.list_users(), lambda: intruder.admin.delete_user("stay"),
                 lambda: intruder.admin.update_user("stay", disabled=True),
                 lambda: intruder.admin.create_custom_token("stay")):
        with pytest.raises(Unauthenticated):
            call()
    assert admin.admin.get_user("stay")["disabled"] is False
