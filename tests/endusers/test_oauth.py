"""OAuth/OIDC sign-in end to end against a fake provider on loopback, through Authlib's
real client: discovery, authorize with PKCE, token, JWKS, ID token checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from endusers import oauth, tokens
from endusers.models import EndUser, EndUserIdentity, OAuthProvider, RefreshToken
from projects.services import secret_hash
from tests.endusers.fake_oidc import FakeOidcProvider
from tests.endusers.helpers import AUTH, PASSWORD, error, signup

APP = "https://app.example.com/signed-in"


@pytest.fixture
def idp(secret_api: Any) -> Iterator[FakeOidcProvider]:
    provider = FakeOidcProvider()
    oauth._discovered.clear()
    configured = secret_api.put(
        f"{AUTH}/oauth/providers/acme", {"kind": "oidc", "clientId": "client-1", "clientSecret": "s3cret", "issuer": provider.issuer}
    )
    assert configured.status == 200, configured.body
    assert secret_api.patch(f"{AUTH}/config", {"redirectUris": [APP]}).status == 200
    yield provider
    provider.close()
    oauth._discovered.clear()


def _start(api: Any, redirect_uri: str = APP, name: str = "acme", base: str = AUTH) -> str:
    response = api.get(f"{base}/oauth/{name}/authorize?redirect_uri={redirect_uri}")
    assert response.status == 302, response.body
    return response.headers["location"]


def _consent(location: str) -> str:
    """The browser at the provider: it consents and sends the browser to our callback."""
    reply = requests.get(location, allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    callback = urlparse(reply.headers["location"])
    return f"{callback.path}?{callback.query}"


def _sign_in(api: Any) -> dict[str, str]:
    done = api.get(_consent(_start(api)))
    assert done.status == 302, done.body
    location = done.headers["location"]
    assert location.startswith(APP + "#")
    return {k: v[0] for k, v in parse_qs(urlparse(location).fragment).items()}


def test_oidc_sign_in_end_to_end(api: Any, idp: FakeOidcProvider) -> None:
    location = urlparse(_start(api))
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.issuer}/authorize"
    assert (query["code_challenge_method"], query["client_id"], query["scope"]) == ("S256", "client-1", "openid email profile")
    assert query["redirect_uri"] == "http://127.0.0.1:8000/v1/projects/alpha-app/auth/oauth/acme/callback"
    assert query["state"] and query["nonce"] and query["code_challenge"]
    result = _sign_in(api)
    assert set(result) == {"accessToken", "refreshToken", "expiresIn", "uid"}
    claims = tokens.access_token_verify("alpha-app", result["accessToken"])["token"]
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (result["uid"], "ada@example.com", True)
    assert idp.token_requests[-1]["code_verifier"]  # PKCE: the verifier went to the token endpoint
    user = EndUser.objects.for_project("alpha-app").get()
    assert (user.uid, user.display_name, user.password) == (result["uid"], "Ada", "")
    assert list(EndUserIdentity.objects.for_project("alpha-app").values_list("provider", "subject")) == [("acme", "idp-123")]
    # The refresh token works like any other; signing in again is the same user.
    assert api.with_key(None).post(f"{AUTH}/refresh", {"refreshToken": result["refreshToken"]}).status == 401  # needs a key
    assert _sign_in(api)["uid"] == result["uid"]


def test_refresh_after_oauth(public_api: Any, idp: FakeOidcProvider) -> None:
    result = _sign_in(public_api)
    assert public_api.post(f"{AUTH}/refresh", {"refreshToken": result["refreshToken"]}).status == 200


def test_a_wrong_or_replayed_state_is_refused(api: Any, idp: FakeOidcProvider) -> None:
    callback = _consent(_start(api))
    path, query = callback.split("?", 1)
    params = {k: v[0] for k, v in parse_qs(query).items()}
    bad = api.get(f"{path}?code={params['code']}&state=forged")
    error(bad, 400, "invalid_argument")
    assert "location" not in bad.headers
    error(api.get(f"{path}?code={params['code']}"), 400, "invalid_argument")
    assert api.get(callback).status == 302
    error(api.get(callback), 400, "invalid_argument")  # a state works once
    assert EndUser.objects.for_project("alpha-app").count() == 1


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.example.com/steal", "https://app.example.com/signed-in/../x", "https://app.example.com/signed-in?x=1", "", "//evil.example.com"],
)
def test_a_redirect_uri_off_the_allow_list_is_refused(api: Any, idp: FakeOidcProvider, redirect_uri: str) -> None:
    response = api.get(f"{AUTH}/oauth/acme/authorize?redirect_uri={redirect_uri}")
    error(response, 400, "invalid_argument")
    assert "location" not in response.headers


def test_id_tokens_with_a_bad_signature_or_nonce_are_refused(api: Any, idp: FakeOidcProvider) -> None:
    idp.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    error(api.get(_consent(_start(api))), 401, "unauthenticated")
    idp.signing_key = idp.key
    idp.nonce_override = "not-the-nonce"
    error(api.get(_consent(_start(api))), 401, "unauthenticated")
    assert not EndUser.objects.for_project("alpha-app").exists()


def test_the_provider_refusing_is_401_and_a_denied_consent_goes_back_to_the_app(api: Any, idp: FakeOidcProvider, secret_api: Any) -> None:
    state = parse_qs(urlparse(_start(api)).query)["state"][0]
    denied = api.get(f"{AUTH}/oauth/acme/callback?error=access_denied&state={state}")
    assert denied.status == 302 and denied.headers["location"] == f"{APP}#error=access_denied"
    secret_api.put(f"{AUTH}/oauth/providers/acme", {"kind": "oidc", "clientId": "client-1", "clientSecret": "wrong", "issuer": idp.issuer})
    error(api.get(_consent(_start(api))), 401, "unauthenticated")


def test_a_verified_email_links_to_the_existing_account(public_api: Any, api: Any, idp: FakeOidcProvider) -> None:
    session = signup(public_api)  # never verified: whoever typed it may not own it
    result = _sign_in(api)
    assert result["uid"] == session["user"]["uid"]
    user = EndUser.objects.for_project("alpha-app").get()
    assert (user.email_verified, user.password) == (True, "")
    live = RefreshToken.objects.for_project("alpha-app").filter(user=user, revoked_at__isnull=True)
    assert list(live.values_list("token_hash", flat=True)) == [secret_hash(result["refreshToken"])]
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")


def test_an_unverified_provider_email_does_not_link(public_api: Any, api: Any, idp: FakeOidcProvider) -> None:
    session = signup(public_api)
    idp.user = {**idp.user, "email_verified": False, "sub": "idp-999"}
    result = _sign_in(api)
    assert result["uid"] != session["user"]["uid"]
    assert EndUser.objects.for_project("alpha-app").get(uid=result["uid"]).email is None
    assert public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).status == 200


def test_disabled_users_cannot_sign_in_with_a_provider(api: Any, secret_api: Any, idp: FakeOidcProvider) -> None:
    uid = _sign_in(api)["uid"]
    secret_api.patch(f"/v1/projects/alpha-app/users/{uid}", {"disabled": True})
    error(api.get(_consent(_start(api))), 403, "permission_denied")


def test_provider_admin_keeps_the_secret_sealed(secret_api: Any, public_api: Any, idp: FakeOidcProvider) -> None:
    listed = secret_api.get(f"{AUTH}/oauth/providers").body
    assert listed == {"providers": [{
        "name": "acme", "kind": "oidc", "clientId": "client-1", "clientSecretSet": True, "issuer": idp.issuer,
        "scopes": "openid email profile", "callbackUrl": "http://127.0.0.1:8000/v1/projects/alpha-app/auth/oauth/acme/callback",
    }]}
    assert "s3cret" not in OAuthProvider.objects.for_project("alpha-app").get().client_secret_sealed
    assert "s3cret" not in str(listed)
    for payload in ({"kind": "myspace", "clientId": "x"}, {"kind": "oidc", "clientId": "x"}, {"kind": "google"}, {"kind": "google", "clientId": "x", "extra": 1}):
        error(secret_api.put(f"{AUTH}/oauth/providers/other", payload), 400, "invalid_argument")
    error(secret_api.put(f"{AUTH}/oauth/providers/Bad_Name", {"kind": "google", "clientId": "x"}), 400, "invalid_argument")
    error(public_api.get(f"{AUTH}/oauth/providers"), 403, "permission_denied")
    error(public_api.put(f"{AUTH}/oauth/providers/acme", {"kind": "google", "clientId": "x"}), 403, "permission_denied")
    error(secret_api.patch(f"{AUTH}/config", {"redirectUris": ["ftp://x"]}), 400, "invalid_argument")
    assert secret_api.delete(f"{AUTH}/oauth/providers/acme").status == 204
    error(public_api.get(f"{AUTH}/oauth/acme/authorize?redirect_uri={APP}"), 404, "not_found")


def test_another_project_cannot_use_alphas_providers_states_or_identities(api: Any, other_project: Any, idp: FakeOidcProvider) -> None:
    beta = api.with_key(other_project.secret_key)
    beta.patch("/v1/projects/beta-app/auth/config", {"redirectUris": [APP]})
    error(api.get(f"/v1/projects/beta-app/auth/oauth/acme/authorize?redirect_uri={APP}"), 404, "not_found")
    callback = _consent(_start(api))
    error(api.get(callback.replace("/alpha-app/", "/beta-app/")), 400, "invalid_argument")
    error(beta.get("/v1/projects/alpha-app/auth/oauth/providers"), 401, "unauthenticated")
    error(beta.put("/v1/projects/alpha-app/auth/oauth/providers/acme", {"kind": "google", "clientId": "x"}), 401, "unauthenticated")
    assert beta.get("/v1/projects/beta-app/auth/oauth/providers").body == {"providers": []}
    # Alpha's sign-in still completes after beta's attempts.
    assert api.get(callback).status == 302
    assert not EndUser.objects.for_project("beta-app").exists()
    assert OAuthProvider.objects.for_project("alpha-app").get().client_id == "client-1"
