"""Sign-up, sign-in, anonymous users, linking, refresh rotation, logout and the
signed-in user's own calls, all over HTTP."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endusers import tokens
from endusers.models import EndUser, RefreshToken
from projects.services import secret_hash
from tests.endusers.helpers import AUTH, BETA_AUTH, PASSWORD, SESSION_KEYS, error, signup


def _claims(access_token: str) -> dict[str, Any]:
    return tokens.access_token_verify("alpha-app", access_token)["token"]


def test_signup_returns_a_session_and_keeps_only_hashes(public_api: Any) -> None:
    response = public_api.post(f"{AUTH}/signup", {"email": " Ada@Example.com ", "password": PASSWORD, "displayName": "Ada"})
    assert response.status == 201 and set(response.body) == SESSION_KEYS
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    user = body["user"]
    assert set(user) == {
        "uid", "email", "emailVerified", "displayName", "anonymous", "disabled", "providers", "claims", "data",
        "createTime", "updateTime", "lastSignInTime",
    }
    assert (user["email"], user["emailVerified"], user["displayName"], user["anonymous"], user["disabled"]) == (
        "Ada@Example.com", False, "Ada", False, False,
    )
    assert user["providers"] == ["password"] and user["claims"] == {} and user["data"] == {}
    assert len(user["uid"]) == 28 and user["createTime"].endswith("Z") and user["lastSignInTime"].endswith("Z")
    assert body["expiresIn"] == 900 and body["refreshToken"].startswith("rt_")
    claims = _claims(body["accessToken"])
    assert (claims["sub"], claims["email"], claims["email_verified"], claims["anonymous"]) == (user["uid"], "Ada@Example.com", False, False)
    assert claims["exp"] - claims["iat"] == 900
    row = EndUser.objects.for_project("alpha-app").get(uid=user["uid"])
    assert row.email_normalized == "ada@example.com"
    assert row.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$") and PASSWORD not in row.password
    assert "argon2" not in str(body) and row.password not in str(body)
    stored = RefreshToken.objects.for_project("alpha-app").get(user=row)
    assert stored.token_hash == secret_hash(body["refreshToken"]) and body["refreshToken"] not in stored.token_hash


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short-1"}, "password"),
        ({"email": "a@example.com", "password": "password123"}, "password"),
        ({"email": "a@example.com", "password": "12345678901"}, "password"),
        ({"email": "a@example.com", "password": "x" * 257}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": 7, "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": PASSWORD, "displayName": "x" * 201}, "displayName"),
        ({"email": "a@example.com", "password": PASSWORD, "admin": True}, None),
    ],
    ids=["bad-email", "too-short", "common", "numeric", "too-long", "no-password", "no-email", "email-type", "long-name", "unknown-field"],
)
def test_signup_refuses_bad_input(public_api: Any, payload: dict[str, Any], field: str | None) -> None:
    body = error(public_api.post(f"{AUTH}/signup", payload), 400, "invalid_argument")
    if field is not None:
        assert body["details"]["field"] == field
    assert EndUser.objects.for_project("alpha-app").count() == 0


def test_password_errors_name_the_failed_checks(public_api: Any) -> None:
    body = error(public_api.post(f"{AUTH}/signup", {"email": "a@example.com", "password": "password"}), 400, "invalid_argument")
    assert body["details"] == {"field": "password", "errors": ["This password is too common."]}
    body = error(public_api.post(f"{AUTH}/signup", {"email": "a@example.com", "password": "1234567"}), 400, "invalid_argument")
    assert body["details"]["errors"] == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]


def test_non_json_and_non_object_bodies_are_4xx(public_api: Any) -> None:
    error(public_api.post(f"{AUTH}/signup", raw=b"email=a", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    error(public_api.post(f"{AUTH}/signup", raw=b"{nope"), 400, "invalid_argument")
    error(public_api.post(f"{AUTH}/signup", [1, 2]), 400, "invalid_argument")


def test_auth_calls_need_a_key_of_the_project(api: Any, project: Any, other_project: Any) -> None:
    error(api.post(f"{AUTH}/signup", {"email": "a@example.com", "password": PASSWORD}), 401, "unauthenticated")
    beta = api.with_key(other_project.publishable_key)
    for path in ("signup", "login", "anonymous", "refresh", "logout", "link", "me", "me/password"):
        error(beta.post(f"{AUTH}/{path}", {}), 401, "unauthenticated")
    assert EndUser.objects.for_project("alpha-app").count() == 0


def test_emails_are_unique_whatever_their_case(public_api: Any, api: Any, other_project: Any) -> None:
    signup(public_api, "Ada@Example.com")
    body = error(public_api.post(f"{AUTH}/signup", {"email": "ada@EXAMPLE.COM", "password": PASSWORD}), 409, "already_exists")
    assert body["details"] == {"field": "email"}
    login = public_api.post(f"{AUTH}/login", {"email": "ADA@example.com", "password": PASSWORD})
    assert login.status == 200 and login.body["user"]["email"] == "Ada@Example.com"
    # Another project is another namespace.
    signup(api.with_key(other_project.publishable_key), "ada@example.com", base=BETA_AUTH)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.booleans(), min_size=15, max_size=15))
def test_any_casing_of_a_taken_email_is_taken(public_api: Any, flips: list[bool]) -> None:
    EndUser.objects.for_project("alpha-app").filter(email_normalized="grace.hopper@example.com").delete()
    EndUser.objects.for_project("alpha-app").create(
        project_id="alpha-app", uid="grace", email="grace.hopper@example.com", email_normalized="grace.hopper@example.com"
    )
    local = "".join(c.upper() if flip else c for c, flip in zip("grace.hopper", flips + [False] * 20))
    response = public_api.post(f"{AUTH}/signup", {"email": f"{local}@EXAMPLE.com", "password": PASSWORD})
    error(response, 409, "already_exists")


def test_login_failures_are_identical_for_wrong_email_and_wrong_password(public_api: Any, client: Any, project: Any) -> None:
    signup(public_api)

    def raw(email: str, password: str) -> tuple[int, bytes]:
        response = client.post(
            f"{AUTH}/login", {"email": email, "password": password}, content_type="application/json",
            HTTP_X_API_KEY=project.publishable_key, HTTP_X_REQUEST_ID="same-id",
        )
        return response.status_code, response.content

    wrong_password = raw("ada@example.com", PASSWORD + "x")
    wrong_email = raw("nobody@example.com", PASSWORD)
    assert wrong_password[0] == 401
    assert wrong_password == wrong_email
    assert b"Invalid email or password." in wrong_password[1]


def test_login_works_and_a_disabled_user_is_403(public_api: Any) -> None:
    uid = signup(public_api)["user"]["uid"]
    login = public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD})
    assert login.status == 200 and set(login.body) == SESSION_KEYS and login.body["user"]["uid"] == uid
    EndUser.objects.for_project("alpha-app").filter(uid=uid).update(disabled=True)
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 403, "permission_denied")
    # Only someone with the password learns that the account is disabled.
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": "wrong-Pass-77"}), 401, "unauthenticated")


def test_anonymous_then_link_keeps_the_uid(public_api: Any) -> None:
    anonymous = public_api.post(f"{AUTH}/anonymous", {})
    assert anonymous.status == 201 and set(anonymous.body) == SESSION_KEYS
    user = anonymous.body["user"]
    assert user["anonymous"] is True and user["email"] is None and user["providers"] == ["anonymous"]
    assert _claims(anonymous.body["accessToken"])["anonymous"] is True
    signed_in = public_api.with_bearer(anonymous.body["accessToken"])
    signed_in.patch(f"{AUTH}/me", {"data": {"cart": [1, 2]}})
    linked = signed_in.post(f"{AUTH}/link", {"email": "Anon@Example.com", "password": PASSWORD})
    assert linked.status == 200 and set(linked.body) == SESSION_KEYS
    assert linked.body["user"]["uid"] == user["uid"]
    assert (linked.body["user"]["anonymous"], linked.body["user"]["email"], linked.body["user"]["providers"]) == (False, "Anon@Example.com", ["password"])
    assert linked.body["user"]["data"] == {"cart": [1, 2]}
    claims = _claims(linked.body["accessToken"])
    assert (claims["sub"], claims["anonymous"], claims["email"]) == (user["uid"], False, "Anon@Example.com")
    login = public_api.post(f"{AUTH}/login", {"email": "anon@example.com", "password": PASSWORD})
    assert login.body["user"]["uid"] == user["uid"]
    error(signed_in.post(f"{AUTH}/link", {"email": "other@example.com", "password": PASSWORD}), 412, "failed_precondition")


def test_link_needs_a_signed_in_anonymous_user_and_a_free_email(public_api: Any) -> None:
    signup(public_api, "taken@example.com")
    error(public_api.post(f"{AUTH}/link", {"email": "x@example.com", "password": PASSWORD}), 401, "unauthenticated")
    anonymous = public_api.post(f"{AUTH}/anonymous", {}).body
    signed_in = public_api.with_bearer(anonymous["accessToken"])
    error(signed_in.post(f"{AUTH}/link", {"email": "TAKEN@example.com", "password": PASSWORD}), 409, "already_exists")
    error(signed_in.post(f"{AUTH}/link", {"email": "new@example.com", "password": "short"}), 400, "invalid_argument")
    row = EndUser.objects.for_project("alpha-app").get(uid=anonymous["user"]["uid"])
    assert (row.is_anonymous, row.email, row.password) == (True, None, "")


def test_anonymous_users_cannot_log_in_with_an_empty_password(public_api: Any) -> None:
    public_api.post(f"{AUTH}/anonymous", {})
    error(public_api.post(f"{AUTH}/login", {"email": "", "password": ""}), 401, "unauthenticated")


def test_refresh_rotates_and_reuse_revokes_the_family(public_api: Any) -> None:
    first = signup(public_api)
    other_session = public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).body
    second = public_api.post(f"{AUTH}/refresh", {"refreshToken": first["refreshToken"]})
    assert second.status == 200 and set(second.body) == SESSION_KEYS
    assert second.body["refreshToken"] != first["refreshToken"]
    assert second.body["user"]["uid"] == first["user"]["uid"]
    assert _claims(second.body["accessToken"])["sub"] == first["user"]["uid"]
    third = public_api.post(f"{AUTH}/refresh", {"refreshToken": second.body["refreshToken"]})
    assert third.status == 200
    # The first token again, past the grace window: it leaked. Its whole family dies, the newest token too.
    _used_long_ago()
    reused = error(public_api.post(f"{AUTH}/refresh", {"refreshToken": first["refreshToken"]}), 401, "unauthenticated")
    assert reused["details"] == {"reason": "reused"}
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": third.body["refreshToken"]}), 401, "unauthenticated")
    # Another session (another family) is untouched.
    assert public_api.post(f"{AUTH}/refresh", {"refreshToken": other_session["refreshToken"]}).status == 200


def _used_long_ago() -> None:
    """Move every use of a refresh token back past the reuse grace window."""
    from django.conf import settings

    grace = timedelta(seconds=settings.BAAS_AUTH_REFRESH_REUSE_GRACE_SECONDS + 1)
    for row in RefreshToken.objects.for_project("alpha-app").filter(used_at__isnull=False):
        RefreshToken.objects.for_project("alpha-app").filter(pk=row.pk).update(used_at=row.used_at - grace)


def test_a_token_used_again_within_the_grace_window_is_the_same_client(public_api: Any) -> None:
    """A retry whose answer was lost, or two tabs refreshing one stored session at once:
    each gets a session of the same family; any reuse after the window still revokes all."""
    first = signup(public_api)
    retry_one = public_api.post(f"{AUTH}/refresh", {"refreshToken": first["refreshToken"]})
    retry_two = public_api.post(f"{AUTH}/refresh", {"refreshToken": first["refreshToken"]})
    assert retry_one.status == 200 and retry_two.status == 200
    assert retry_one.body["refreshToken"] != retry_two.body["refreshToken"]
    assert retry_one.body["user"]["uid"] == retry_two.body["user"]["uid"] == first["user"]["uid"]
    families = set(RefreshToken.objects.for_project("alpha-app").values_list("family", flat=True))
    assert len(families) == 1
    # Both branches rotate on their own.
    branch = public_api.post(f"{AUTH}/refresh", {"refreshToken": retry_one.body["refreshToken"]})
    assert branch.status == 200
    # Later, the first token once more: a leak after all. Every branch of the family dies.
    _used_long_ago()
    reused = error(public_api.post(f"{AUTH}/refresh", {"refreshToken": first["refreshToken"]}), 401, "unauthenticated")
    assert reused["details"] == {"reason": "reused"}
    for token in (retry_two.body["refreshToken"], branch.body["refreshToken"]):
        error(public_api.post(f"{AUTH}/refresh", {"refreshToken": token}), 401, "unauthenticated")


def test_concurrent_uses_of_one_token_all_get_sessions_of_one_family(asgi_server: Any, project: Any) -> None:
    """Through a real server, so the uses race in separate transactions."""
    import threading

    import requests

    base = f"{asgi_server.url}{AUTH}"
    headers = {"X-Api-Key": project.publishable_key}
    first = requests.post(f"{base}/signup", json={"email": "ada@example.com", "password": PASSWORD}, headers=headers, timeout=30)
    assert first.status_code == 201, first.text
    token = first.json()["refreshToken"]
    answers: list[requests.Response] = []
    go = threading.Barrier(4)

    def use() -> None:
        go.wait()
        answers.append(requests.post(f"{base}/refresh", json={"refreshToken": token}, headers=headers, timeout=30))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status_code for answer in answers] == [200] * 4, [answer.text for answer in answers]
    assert len({answer.json()["refreshToken"] for answer in answers}) == 4
    rows = RefreshToken.objects.for_project(project.project.id)
    assert rows.filter(revoked_at__isnull=False).count() == 0
    assert len(set(rows.values_list("family", flat=True))) == 1


def test_refresh_ignores_an_expired_access_token_and_refuses_bad_tokens(public_api: Any, monkeypatch: Any) -> None:
    import time

    monkeypatch.setattr(tokens, "_now", lambda: int(time.time()) - 10_000)
    session = signup(public_api)
    monkeypatch.undo()
    stale = public_api.with_bearer(session["accessToken"])
    error(stale.get(f"{AUTH}/me"), 401, "unauthenticated")
    assert stale.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).status == 200
    for bad in ("rt_nope", "garbage", "rt_" + "x" * 300):
        error(public_api.post(f"{AUTH}/refresh", {"refreshToken": bad}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": 5}), 400, "invalid_argument")
    error(public_api.post(f"{AUTH}/refresh", {}), 400, "invalid_argument")


def test_an_expired_refresh_token_is_refused(public_api: Any) -> None:
    session = signup(public_api)
    RefreshToken.objects.for_project("alpha-app").update(expires_at=timezone.now() - timedelta(seconds=1))
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}), 401, "unauthenticated")


def test_logout_ends_only_that_session(public_api: Any) -> None:
    one = signup(public_api)
    two = public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).body
    rotated = public_api.post(f"{AUTH}/refresh", {"refreshToken": one["refreshToken"]}).body
    assert public_api.post(f"{AUTH}/logout", {"refreshToken": rotated["refreshToken"]}).status == 204
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": rotated["refreshToken"]}), 401, "unauthenticated")
    assert public_api.post(f"{AUTH}/refresh", {"refreshToken": two["refreshToken"]}).status == 200
    assert public_api.post(f"{AUTH}/logout", {"refreshToken": "rt_unknown"}).status == 204
    error(public_api.post(f"{AUTH}/logout", {}), 400, "invalid_argument")


def test_me_get_patch_delete(public_api: Any) -> None:
    session = signup(public_api, displayName="Ada")
    me = public_api.with_bearer(session["accessToken"])
    error(public_api.get(f"{AUTH}/me"), 401, "unauthenticated")
    got = me.get(f"{AUTH}/me")
    assert got.status == 200 and got.body == {"user": {**session["user"], "updateTime": got.body["user"]["updateTime"]}}
    patched = me.patch(f"{AUTH}/me", {"displayName": "Countess", "data": {"theme": "dark"}})
    assert patched.status == 200
    assert (patched.body["user"]["displayName"], patched.body["user"]["data"]) == ("Countess", {"theme": "dark"})
    assert me.get(f"{AUTH}/me").body["user"]["displayName"] == "Countess"
    assert me.delete(f"{AUTH}/me").status == 204
    error(me.get(f"{AUTH}/me"), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")
    assert not EndUser.objects.for_project("alpha-app").exists() and not RefreshToken.objects.for_project("alpha-app").exists()


@pytest.mark.parametrize(
    "payload",
    [{"claims": {"role": "admin"}}, {"disabled": False}, {"email": "x@example.com"}, {"emailVerified": True},
     {"data": [1]}, {"data": {"x": "y" * 20000}}, {"displayName": 5}, {"uid": "other"}],
    ids=["claims", "disabled", "email", "emailVerified", "data-list", "data-big", "name-type", "uid"],
)
def test_users_cannot_change_what_only_admins_may(public_api: Any, payload: dict[str, Any]) -> None:
    session = signup(public_api)
    error(public_api.with_bearer(session["accessToken"]).patch(f"{AUTH}/me", payload), 400, "invalid_argument")
    row = EndUser.objects.for_project("alpha-app").get()
    assert (row.claims, row.disabled, row.email, row.email_verified, row.data, row.uid) == (
        {}, False, "ada@example.com", False, {}, session["user"]["uid"],
    )


def test_a_disabled_user_is_refused_by_me(public_api: Any) -> None:
    session = signup(public_api)
    EndUser.objects.for_project("alpha-app").update(disabled=True)
    error(public_api.with_bearer(session["accessToken"]).get(f"{AUTH}/me"), 403, "permission_denied")


def test_password_change_ends_other_sessions_and_returns_fresh_tokens(public_api: Any) -> None:
    first = signup(public_api)
    second = public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).body
    me = public_api.with_bearer(second["accessToken"])
    new_password = "another-Long-phrase-7"
    wrong = error(me.post(f"{AUTH}/me/password", {"currentPassword": "nope-Nope-123", "newPassword": new_password}), 401, "unauthenticated")
    assert wrong["details"] == {"field": "currentPassword"}
    error(me.post(f"{AUTH}/me/password", {"currentPassword": PASSWORD, "newPassword": "password"}), 400, "invalid_argument")
    changed = me.post(f"{AUTH}/me/password", {"currentPassword": PASSWORD, "newPassword": new_password})
    assert changed.status == 200 and set(changed.body) == SESSION_KEYS
    for old in (first["refreshToken"], second["refreshToken"]):
        error(public_api.post(f"{AUTH}/refresh", {"refreshToken": old}), 401, "unauthenticated")
    assert public_api.post(f"{AUTH}/refresh", {"refreshToken": changed.body["refreshToken"]}).status == 200
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")
    assert public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": new_password}).status == 200


def test_password_change_without_a_password_is_412(public_api: Any) -> None:
    anonymous = public_api.post(f"{AUTH}/anonymous", {}).body
    response = public_api.with_bearer(anonymous["accessToken"]).post(
        f"{AUTH}/me/password", {"currentPassword": "", "newPassword": "another-Long-phrase-7"}
    )
    error(response, 412, "failed_precondition")


def test_another_project_can_never_use_alphas_users_or_tokens(api: Any, project: Any, other_project: Any) -> None:
    alpha = api.with_key(project.publishable_key)
    beta = api.with_key(other_project.publishable_key)
    session = signup(alpha)
    as_user_on_beta = beta.with_bearer(session["accessToken"])
    error(as_user_on_beta.get(f"{BETA_AUTH}/me"), 401, "unauthenticated")
    error(as_user_on_beta.patch(f"{BETA_AUTH}/me", {"displayName": "x"}), 401, "unauthenticated")
    error(as_user_on_beta.delete(f"{BETA_AUTH}/me"), 401, "unauthenticated")
    error(as_user_on_beta.post(f"{BETA_AUTH}/me/password", {"currentPassword": PASSWORD, "newPassword": "another-Long-phrase-7"}), 401, "unauthenticated")
    error(beta.post(f"{BETA_AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")
    error(beta.post(f"{BETA_AUTH}/refresh", {"refreshToken": session["refreshToken"]}), 401, "unauthenticated")
    assert beta.post(f"{BETA_AUTH}/logout", {"refreshToken": session["refreshToken"]}).status == 204
    # Nothing of alpha's changed: the session still refreshes, the user is intact.
    assert alpha.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).status == 200
    row = EndUser.objects.for_project("alpha-app").get()
    assert (row.display_name, row.password.startswith("argon2$")) == ("", True)
    # The same email can exist in beta, and the two accounts never meet.
    beta_session = signup(beta, "ada@example.com", password="beta-Password-42", base=BETA_AUTH)
    assert beta_session["user"]["uid"] != session["user"]["uid"]
    error(alpha.post(f"{AUTH}/login", {"email": "ada@example.com", "password": "beta-Password-42"}), 401, "unauthenticated")


def test_secrets_never_reach_the_logs(public_api: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    session = signup(public_api)
    public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD + "x"})
    refreshed = public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body
    public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]})
    row = EndUser.objects.for_project("alpha-app").get()
    text = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for secret in (PASSWORD, session["refreshToken"], refreshed["refreshToken"], row.password):
        assert secret not in text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["signup", "login", "anonymous", "refresh", "logout", "link", "me", "me/password"]),
    method=st.sampled_from(["POST", "PATCH"]),
    body=JSON | st.fixed_dictionaries(
        {}, optional={"email": JSON, "password": JSON, "refreshToken": JSON, "displayName": JSON, "data": JSON,
                      "currentPassword": JSON, "newPassword": JSON}
    ),
)
def test_any_json_body_is_answered_without_a_500(public_api: Any, enduser_token: Any, project: Any, path: str, method: str, body: Any) -> None:
    client = public_api.with_bearer(enduser_token(project, "someone"))
    response = client.request(method, f"{AUTH}/{path}", body)
    assert response.status < 500, response.body
    if response.status >= 400:
        assert set(response.body) == {"error"} and set(response.body["error"]) == {"code", "message", "details"}


def test_tokens_carry_custom_claims_set_on_the_user(public_api: Any) -> None:
    session = signup(public_api)
    EndUser.objects.for_project("alpha-app").update(claims={"role": "editor", "teams": ["a"]})
    refreshed = public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body
    claims = jwt.decode(refreshed["accessToken"], options={"verify_signature": False})
    assert (claims["role"], claims["teams"]) == ("editor", ["a"])
    assert refreshed["user"]["claims"] == {"role": "editor", "teams": ["a"]}


def test_oversized_numbers_and_deep_json_are_400(public_api: Any) -> None:
    for raw in (b'{"email": 1' + b"0" * 40 + b', "password": "x"}', b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"):
        response = public_api.post(f"{AUTH}/signup", raw=raw)
        assert 400 <= response.status < 500, response.body
