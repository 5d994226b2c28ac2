"""Admin calls with a secret key: users, custom claims, disabling, custom tokens,
settings and key rotation; and the same calls refused to every other caller."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from django.utils import timezone

from endusers import tokens
from endusers.models import CustomTokenUse, EndUser, RefreshToken
from tests.endusers.helpers import AUTH, PASSWORD, SESSION_KEYS, error, signup

USERS = "/v1/projects/alpha-app/users"


def _create(secret_api: Any, **fields: Any) -> dict[str, Any]:
    response = secret_api.post(USERS, fields)
    assert response.status == 201, response.body
    return response.body["user"]  # type: ignore[no-any-return]


def test_create_get_and_delete_a_user(secret_api: Any, public_api: Any) -> None:
    user = _create(
        secret_api, uid="u-1", email="Bob@Example.com", password=PASSWORD, displayName="Bob",
        data={"plan": "pro"}, claims={"role": "editor"}, emailVerified=True,
    )
    assert (user["uid"], user["email"], user["emailVerified"], user["claims"], user["data"], user["providers"]) == (
        "u-1", "Bob@Example.com", True, {"role": "editor"}, {"plan": "pro"}, ["password"],
    )
    assert user["lastSignInTime"] is None
    assert secret_api.get(f"{USERS}/u-1").body == {"user": user}
    login = public_api.post(f"{AUTH}/login", {"email": "bob@example.com", "password": PASSWORD}).body
    claims = tokens.access_token_verify("alpha-app", login["accessToken"])["token"]
    assert (claims["role"], claims["email_verified"]) == ("editor", True)
    assert secret_api.delete(f"{USERS}/u-1").status == 204
    error(secret_api.get(f"{USERS}/u-1"), 404, "not_found")
    error(secret_api.delete(f"{USERS}/u-1"), 404, "not_found")
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": login["refreshToken"]}), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"uid": "a/b"}, 400, "invalid_argument"),
        ({"uid": "a b"}, 400, "invalid_argument"),
        ({"uid": "x" * 129}, 400, "invalid_argument"),
        ({"claims": {"sub": "x"}}, 400, "invalid_argument"),
        ({"claims": {"big": "x" * 1000}}, 400, "invalid_argument"),
        ({"password": "short"}, 400, "invalid_argument"),
        ({"disabled": "yes"}, 400, "invalid_argument"),
        ({"emailVerified": 1}, 400, "invalid_argument"),
        ({"email": "nope"}, 400, "invalid_argument"),
        ({"role": "admin"}, 400, "invalid_argument"),
        ({"uid": "taken"}, 409, "already_exists"),
        ({"email": "TAKEN@example.com"}, 409, "already_exists"),
    ],
    ids=["slash", "space", "long", "reserved-claim", "big-claims", "weak-password", "disabled-type", "verified-type",
         "bad-email", "unknown-field", "taken-uid", "taken-email"],
)
def test_create_refuses_bad_or_conflicting_input(secret_api: Any, payload: dict[str, Any], status: int, code: str) -> None:
    _create(secret_api, uid="taken", email="taken@example.com")
    error(secret_api.post(USERS, payload), status, code)
    assert EndUser.objects.for_project("alpha-app").count() == 1


def test_list_pages_with_a_stable_cursor_and_searches(secret_api: Any) -> None:
    for i in range(7):
        _create(secret_api, uid=f"user-{i}", email=f"Person{i}@example.com", displayName=f"Name {i}")
    first = secret_api.get(f"{USERS}?limit=3").body
    assert [u["uid"] for u in first["users"]] == ["user-0", "user-1", "user-2"] and first["nextCursor"]
    _create(secret_api, uid="late", email="late@example.com")  # inserted while paging
    second = secret_api.get(f"{USERS}?limit=3&cursor={first['nextCursor']}").body
    third = secret_api.get(f"{USERS}?limit=3&cursor={second['nextCursor']}").body
    assert [u["uid"] for u in second["users"]] == ["user-3", "user-4", "user-5"]
    assert [u["uid"] for u in third["users"]] == ["user-6", "late"] and third["nextCursor"] is None
    assert [u["uid"] for u in secret_api.get(f"{USERS}?search=PERSON3").body["users"]] == ["user-3"]
    assert [u["uid"] for u in secret_api.get(f"{USERS}?search=name 5").body["users"]] == ["user-5"]
    assert [u["uid"] for u in secret_api.get(f"{USERS}?search=lat").body["users"]] == ["late"]
    assert secret_api.get(f"{USERS}?search=nobody").body == {"users": [], "nextCursor": None}
    for bad in ("limit=0", "limit=1001", "limit=x", "cursor=%%%", "cursor=LTE"):
        error(secret_api.get(f"{USERS}?{bad}"), 400, "invalid_argument")


def test_disabling_ends_refresh_at_once_and_access_within_a_token_lifetime(
    secret_api: Any, public_api: Any, project: Any, monkeypatch: Any
) -> None:
    session = signup(public_api)
    uid = session["user"]["uid"]
    patched = secret_api.patch(f"{USERS}/{uid}", {"disabled": True})
    assert patched.status == 200 and patched.body["user"]["disabled"] is True
    assert not RefreshToken.objects.for_project("alpha-app").filter(revoked_at__isnull=True).exists()
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 403, "permission_denied")
    error(public_api.with_bearer(session["accessToken"]).get(f"{AUTH}/me"), 403, "permission_denied")
    # Elsewhere the access token works until it expires, and not a second longer.
    claims = tokens.access_token_verify("alpha-app", session["accessToken"])["token"]
    assert public_api.with_bearer(session["accessToken"]).get("/v1/projects/alpha-app").status == 200
    monkeypatch.setattr(tokens, "_now", lambda: claims["exp"])
    error(public_api.with_bearer(session["accessToken"]).get("/v1/projects/alpha-app"), 401, "unauthenticated")
    monkeypatch.undo()
    assert secret_api.patch(f"{USERS}/{uid}", {"disabled": False}).body["user"]["disabled"] is False
    assert public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).status == 200


def test_claims_email_password_and_profile_changes(secret_api: Any, public_api: Any) -> None:
    session = signup(public_api)
    uid = session["user"]["uid"]
    patched = secret_api.patch(
        f"{USERS}/{uid}",
        {"claims": {"role": "admin", "org": 7}, "displayName": "Ada L.", "data": {"x": 1}, "emailVerified": True},
    ).body["user"]
    assert (patched["claims"], patched["displayName"], patched["data"], patched["emailVerified"]) == (
        {"role": "admin", "org": 7}, "Ada L.", {"x": 1}, True,
    )
    refreshed = public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body
    claims = tokens.access_token_verify("alpha-app", refreshed["accessToken"])["token"]
    assert (claims["role"], claims["org"], claims["email_verified"]) == ("admin", 7, True)
    # A new email is unverified until proven; a new password ends every session.
    moved = secret_api.patch(f"{USERS}/{uid}", {"email": "NEW@example.com", "password": "brand-New-phrase-5"}).body["user"]
    assert (moved["email"], moved["emailVerified"]) == ("NEW@example.com", False)
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": refreshed["refreshToken"]}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")
    assert public_api.post(f"{AUTH}/login", {"email": "new@example.com", "password": "brand-New-phrase-5"}).status == 200
    # Clearing claims.
    assert secret_api.patch(f"{USERS}/{uid}", {"claims": {}}).body["user"]["claims"] == {}


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"claims": {"iss": "x"}}, 400), ({"disabled": 1}, 400), ({"password": "password"}, 400), ({"email": "bad"}, 400),
     ({"uid": "new"}, 400), ({"email": "taken@example.com"}, 409), ({"data": "x"}, 400)],
    ids=["reserved-claim", "disabled-type", "weak-password", "bad-email", "uid", "taken-email", "data-type"],
)
def test_update_refuses_bad_input_and_changes_nothing(secret_api: Any, payload: dict[str, Any], status: int) -> None:
    _create(secret_api, uid="taken", email="taken@example.com")
    before = _create(secret_api, uid="u-1", email="one@example.com", claims={"a": 1})
    response = secret_api.patch(f"{USERS}/u-1", payload)
    assert response.status == status, response.body
    after = secret_api.get(f"{USERS}/u-1").body["user"]
    assert {**after, "updateTime": None} == {**before, "updateTime": None}
    error(secret_api.patch(f"{USERS}/missing", {"disabled": True}), 404, "not_found")


def test_custom_token_flow(secret_api: Any, public_api: Any) -> None:
    minted = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:42", "claims": {"plan": "gold"}})
    assert minted.status == 200 and set(minted.body) == {"token", "expiresIn"} and minted.body["expiresIn"] == 600
    token = minted.body["token"]
    # A custom token is not an access token.
    error(public_api.with_bearer(token).get(f"{AUTH}/me"), 401, "unauthenticated")
    exchanged = public_api.post(f"{AUTH}/custom-token/exchange", {"token": token})
    assert exchanged.status == 200 and set(exchanged.body) == SESSION_KEYS
    assert exchanged.body["user"]["uid"] == "ext:42" and exchanged.body["user"]["claims"] == {"plan": "gold"}
    claims = tokens.access_token_verify("alpha-app", exchanged.body["accessToken"])["token"]
    assert (claims["sub"], claims["plan"], claims["anonymous"]) == ("ext:42", "gold", False)
    # Exchanging again signs the same user in; no claims keeps the ones it has.
    again = public_api.post(f"{AUTH}/custom-token/exchange", {"token": secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:42"}).body["token"]})
    assert again.body["user"]["uid"] == "ext:42" and again.body["user"]["claims"] == {"plan": "gold"}
    assert EndUser.objects.for_project("alpha-app").count() == 1
    # An access token is not a custom token.
    error(public_api.post(f"{AUTH}/custom-token/exchange", {"token": exchanged.body["accessToken"]}), 401, "unauthenticated")
    secret_api.patch("/v1/projects/alpha-app/users/ext:42", {"disabled": True})
    fresh = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:42"}).body["token"]
    error(public_api.post(f"{AUTH}/custom-token/exchange", {"token": fresh}), 403, "permission_denied")


def _exchange(public_api: Any, token: str) -> Any:
    return public_api.post(f"{AUTH}/custom-token/exchange", {"token": token})


def test_a_custom_token_works_once(secret_api: Any, public_api: Any, other_project: Any) -> None:
    token = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:7"}).body["token"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert isinstance(jti, str) and len(jti) >= 16
    assert _exchange(public_api, token).status == 200
    body = error(_exchange(public_api, token), 401, "unauthenticated")
    assert body["details"] == {"reason": "reused"}
    assert CustomTokenUse.objects.for_project("alpha-app").filter(jti=jti).count() == 1
    # Each mint has its own id; a replay of one leaves the others good.
    other = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:7"}).body["token"]
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != jti
    assert _exchange(public_api, other).status == 200
    # Replay records are per project: beta having spent the same id does not spend alpha's.
    third = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:7"}).body["token"]
    third_jti = jwt.decode(third, options={"verify_signature": False})["jti"]
    CustomTokenUse.objects.for_project("beta-app").create(project_id="beta-app", jti=third_jti, expires_at=timezone.now())
    assert _exchange(public_api, third).status == 200


def test_a_custom_token_refused_for_a_disabled_user_is_spent(secret_api: Any, public_api: Any) -> None:
    _create(secret_api, uid="ext:9", disabled=True)
    token = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:9"}).body["token"]
    error(_exchange(public_api, token), 403, "permission_denied")
    secret_api.patch(f"{USERS}/ext:9", {"disabled": False})
    error(_exchange(public_api, token), 401, "unauthenticated")


def _p256_flip(token: str) -> str:
    """The same token with its ECDSA signature (r, s) re-encoded as (r, n - s), which
    verifies just as well."""
    import base64

    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    head, payload, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    flipped = base64.urlsafe_b64encode(r + (n - s).to_bytes(32, "big")).rstrip(b"=").decode()
    return f"{head}.{payload}.{flipped}"


def test_a_custom_token_without_an_id_still_works_once(secret_api: Any, public_api: Any) -> None:
    from endusers import keys

    now = int(time.time())
    signer = keys.signer_for("alpha-app")
    payload = {
        "sub": "legacy", "claims": {}, "iat": now, "exp": now + 600,
        "aud": tokens.custom_token_audience("alpha-app"), "iss": tokens.project_issuer("alpha-app"),
    }
    token = jwt.encode(payload, signer.private_key, algorithm="ES256", headers={"kid": signer.kid})
    twin = _p256_flip(token)
    assert twin != token and tokens.custom_token_verify("alpha-app", twin).uid == "legacy"
    assert _exchange(public_api, token).status == 200
    assert error(_exchange(public_api, twin), 401, "unauthenticated")["details"] == {"reason": "reused"}
    # A minted token re-encoded the same way is refused too (its id is in the payload).
    minted = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext:8"}).body["token"]
    assert _exchange(public_api, _p256_flip(minted)).status == 200
    error(_exchange(public_api, minted), 401, "unauthenticated")


def test_custom_tokens_expire_and_refuse_bad_input(secret_api: Any, public_api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(tokens, "_now", lambda: int(time.time()) - 601)
    stale = secret_api.post(f"{AUTH}/custom-token", {"uid": "ext"}).body["token"]
    monkeypatch.undo()
    body = error(public_api.post(f"{AUTH}/custom-token/exchange", {"token": stale}), 401, "unauthenticated")
    assert body["details"] == {"reason": "expired"}
    for bad in ("x", stale + "x", "a.b.c"):
        error(public_api.post(f"{AUTH}/custom-token/exchange", {"token": bad}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/custom-token/exchange", {}), 400, "invalid_argument")
    error(secret_api.post(f"{AUTH}/custom-token", {"uid": "a/b"}), 400, "invalid_argument")
    error(secret_api.post(f"{AUTH}/custom-token", {"uid": "ok", "claims": {"aud": "x"}}), 400, "invalid_argument")
    error(secret_api.post(f"{AUTH}/custom-token", {}), 400, "invalid_argument")
    error(public_api.post(f"{AUTH}/custom-token", {"uid": "ext"}), 403, "permission_denied")
    assert not EndUser.objects.for_project("alpha-app").exists()


def test_access_token_lifetime_is_configurable_per_project(secret_api: Any, public_api: Any, api: Any, other_project: Any) -> None:
    assert secret_api.get(f"{AUTH}/config").body == {"accessTokenLifetime": 900, "accessTokenLifetimeDefault": True, "emailActionUrl": None, "redirectUris": [],
                                                       "emailTemplates": {"verify": None, "reset": None}}
    assert secret_api.patch(f"{AUTH}/config", {"accessTokenLifetime": 120}).body == {
        "accessTokenLifetime": 120, "accessTokenLifetimeDefault": False, "emailActionUrl": None, "redirectUris": [],
        "emailTemplates": {"verify": None, "reset": None},
    }
    session = signup(public_api)
    claims = jwt.decode(session["accessToken"], options={"verify_signature": False})
    assert session["expiresIn"] == 120 and claims["exp"] - claims["iat"] == 120
    beta = signup(api.with_key(other_project.publishable_key), base="/v1/projects/beta-app/auth")
    assert beta["expiresIn"] == 900
    for bad in (59, 86401, "120", True, 1.5):
        error(secret_api.patch(f"{AUTH}/config", {"accessTokenLifetime": bad}), 400, "invalid_argument")
    error(secret_api.patch(f"{AUTH}/config", {"other": 1}), 400, "invalid_argument")
    assert secret_api.patch(f"{AUTH}/config", {"accessTokenLifetime": None}).body["accessTokenLifetime"] == 900
    error(public_api.get(f"{AUTH}/config"), 403, "permission_denied")


def test_rotating_keys_over_http(secret_api: Any, public_api: Any, api: Any) -> None:
    session = signup(public_api)
    old_kid = jwt.get_unverified_header(session["accessToken"])["kid"]
    rotated = secret_api.post(f"{AUTH}/keys:rotate", {})
    assert rotated.status == 200 and rotated.body["kid"] != old_kid
    assert [k["kid"] for k in api.get(f"{AUTH}/jwks.json").body["keys"]] == [rotated.body["kid"], old_kid]
    fresh = public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body
    assert jwt.get_unverified_header(fresh["accessToken"])["kid"] == rotated.body["kid"]
    assert public_api.with_bearer(session["accessToken"]).get(f"{AUTH}/me").status == 200
    error(public_api.post(f"{AUTH}/keys:rotate", {}), 403, "permission_denied")


def test_publishable_keys_cannot_administer(public_api: Any, secret_api: Any) -> None:
    _create(secret_api, uid="u-1")
    calls = [
        public_api.get(USERS), public_api.post(USERS, {"uid": "u-2"}), public_api.get(f"{USERS}/u-1"),
        public_api.patch(f"{USERS}/u-1", {"disabled": True}), public_api.delete(f"{USERS}/u-1"),
        public_api.post(f"{AUTH}/custom-token", {"uid": "u-1"}), public_api.get(f"{AUTH}/config"),
        public_api.patch(f"{AUTH}/config", {"accessTokenLifetime": 60}),
    ]
    assert [c.status for c in calls] == [403] * len(calls)
    row = EndUser.objects.for_project("alpha-app").get()
    assert (row.uid, row.disabled) == ("u-1", False)


def test_another_projects_secret_key_reaches_none_of_alphas_users(api: Any, project: Any, other_project: Any, secret_api: Any) -> None:
    _create(secret_api, uid="shared", email="alpha@example.com", claims={"side": "alpha"})
    beta = api.with_key(other_project.secret_key)
    calls = [
        beta.get(USERS), beta.post(USERS, {"uid": "x"}), beta.get(f"{USERS}/shared"),
        beta.patch(f"{USERS}/shared", {"disabled": True}), beta.delete(f"{USERS}/shared"),
        beta.post(f"{AUTH}/custom-token", {"uid": "shared"}), beta.post(f"{AUTH}/custom-token/exchange", {"token": "x"}),
        beta.get(f"{AUTH}/config"), beta.patch(f"{AUTH}/config", {"accessTokenLifetime": 60}), beta.post(f"{AUTH}/keys:rotate", {}),
    ]
    assert [c.status for c in calls] == [401] * len(calls)
    # Beta's own admin sees only beta's users, even under the same uid.
    beta_users = "/v1/projects/beta-app/users"
    assert beta.get(beta_users).body == {"users": [], "nextCursor": None}
    error(beta.get(f"{beta_users}/shared"), 404, "not_found")
    error(beta.delete(f"{beta_users}/shared"), 404, "not_found")
    assert beta.post(beta_users, {"uid": "shared", "email": "alpha@example.com"}).status == 201
    assert beta.patch(f"{beta_users}/shared", {"claims": {"side": "beta"}}).status == 200
    # A custom token minted by beta does not sign anyone into alpha.
    beta_token = beta.post("/v1/projects/beta-app/auth/custom-token", {"uid": "shared"}).body["token"]
    error(api.with_key(project.publishable_key).post(f"{AUTH}/custom-token/exchange", {"token": beta_token}), 401, "unauthenticated")
    alpha_user = secret_api.get(f"{USERS}/shared").body["user"]
    assert (alpha_user["email"], alpha_user["claims"], alpha_user["disabled"]) == ("alpha@example.com", {"side": "alpha"}, False)
    assert secret_api.get(USERS).body["users"] == [alpha_user]


def test_custom_claims_and_uid_reach_security_rules(secret_api: Any, public_api: Any) -> None:
    rules = {
        "get": "auth != null && auth.token.role == 'editor'",
        "create": "auth != null && auth.token.role == 'editor' && request.data.owner == auth.uid",
    }
    assert secret_api.put("/v1/projects/alpha-app/collections/memos", {"rules": rules}).status == 200
    doc = "/v1/projects/alpha-app/collections/memos/documents"
    assert secret_api.put(f"{doc}/n1", {"data": {"owner": "someone"}}).status == 201
    session = signup(public_api)
    uid = session["user"]["uid"]
    error(public_api.with_bearer(session["accessToken"]).get(f"{doc}/n1"), 403, "permission_denied")
    secret_api.patch(f"{USERS}/{uid}", {"claims": {"role": "editor"}})
    editor = public_api.with_bearer(public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body["accessToken"])
    assert editor.get(f"{doc}/n1").status == 200
    assert editor.post(doc, {"data": {"owner": uid}}).status == 201
    error(editor.post(doc, {"data": {"owner": "someone-else"}}), 403, "permission_denied")
    error(public_api.get(f"{doc}/n1"), 403, "permission_denied")  # no token: auth is null
