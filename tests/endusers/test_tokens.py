"""Access tokens: what they carry, who rejects them, the JWKS, and key rotation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import jwt
import orjson
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baas.api.authentication import authenticate_cached, authenticate_project_request
from baas.api.errors import InvalidArgument, Unauthenticated
from endusers import keys, tokens
from endusers.crypto import secret_open
from endusers.models import SigningKey

ISS = "http://127.0.0.1:8000/v1/projects/alpha-app"
DOC = "/v1/projects/alpha-app/collections/posts/documents/p1"


def _ctx(project: Any, token: str | None, *, key: str | None = None) -> Any:
    return authenticate_project_request(
        project_id="alpha-app",
        api_key=key or project.publishable_key,
        authorization=f"Bearer {token}" if token is not None else None,
        safe_method=True,
    )


def _segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_sets_the_rules_auth_value(project: Any, enduser_token: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(tokens, "_now", lambda: 1_900_000_000)
    token = enduser_token(project, "user-1", {"role": "admin", "tier": 3}, email="ada@example.com", email_verified=True)
    expected = {
        "uid": "user-1",
        "token": {
            "role": "admin",
            "tier": 3,
            "email": "ada@example.com",
            "email_verified": True,
            "anonymous": False,
            "sub": "user-1",
            "iat": 1_900_000_000,
            "exp": 1_900_000_000 + 900,
            "aud": "alpha-app",
            "iss": ISS,
        },
    }
    assert _ctx(project, token).auth == expected
    assert _ctx(project, token, key=project.secret_key).auth == expected
    assert _ctx(project, None).auth is None
    anonymous = enduser_token(project, "anon-1", anonymous=True)
    assert _ctx(project, anonymous).auth["token"] == {
        "email": None, "email_verified": False, "anonymous": True, "sub": "anon-1",
        "iat": 1_900_000_000, "exp": 1_900_000_900, "aud": "alpha-app", "iss": ISS,
    }


def test_console_tokens_beside_a_key_are_not_end_users(project: Any) -> None:
    assert _ctx(project, "pat_" + "x" * 40).auth is None


def test_token_over_http_authenticates_and_a_bad_one_is_401(public_api: Any, project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1")
    # Authenticated, then held to the rules (none here): 403, not 401.
    allowed = public_api.with_bearer(token).get(DOC)
    assert allowed.status == 403 and allowed.error_code == "permission_denied"
    for bad in (token + "x", "not-a-jwt", token.replace(".", ".e30.", 1)):
        response = public_api.with_bearer(bad).get(DOC)
        assert response.status == 401 and response.error_code == "unauthenticated", bad
        response = public_api.with_bearer(bad).get("/v1/projects/alpha-app")
        assert response.status == 401 and response.error_code == "unauthenticated", bad


def test_a_token_of_another_project_is_401(api: Any, project: Any, other_project: Any, enduser_token: Any) -> None:
    beta_token = enduser_token(other_project, "user-1")
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", beta_token)
    assert tokens.access_token_verify("beta-app", beta_token)["uid"] == "user-1"
    for key in (project.publishable_key, project.secret_key):
        response = api.with_key(key).with_bearer(beta_token).get("/v1/projects/alpha-app")
        assert response.status == 401 and response.error_code == "unauthenticated"
    # Even re-signed by alpha's key, a token whose audience is beta is refused by alpha.
    signer = keys.signer_for("alpha-app")
    claims = jwt.decode(beta_token, options={"verify_signature": False})
    forged = jwt.encode(claims, signer.private_key, algorithm="ES256", headers={"kid": signer.kid})
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", forged)


def test_expiry_is_exact(project: Any, enduser_token: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(tokens, "_now", lambda: 1_900_000_000)
    token = enduser_token(project, "user-1", lifetime=60)
    monkeypatch.setattr(tokens, "_now", lambda: 1_900_000_059)
    assert tokens.access_token_verify("alpha-app", token)["uid"] == "user-1"
    monkeypatch.setattr(tokens, "_now", lambda: 1_900_000_060)
    with pytest.raises(Unauthenticated) as raised:
        tokens.access_token_verify("alpha-app", token)
    assert raised.value.details == {"reason": "expired"}


def test_an_expired_token_is_401_over_http(public_api: Any, project: Any, enduser_token: Any, monkeypatch: Any) -> None:
    import time

    monkeypatch.setattr(tokens, "_now", lambda: int(time.time()) - 901)
    token = enduser_token(project, "user-1")
    monkeypatch.undo()
    response = public_api.with_bearer(token).get(DOC)
    assert response.status == 401 and response.body["error"]["details"] == {"reason": "expired"}


def test_tampered_tokens_are_refused(project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1", {"role": "user"})
    header, payload, signature = token.split(".")
    claims = orjson.loads(_segments(token)[1])
    for changed in ({**claims, "role": "admin"}, {**claims, "sub": "user-2"}, {**claims, "exp": claims["exp"] + 10**6}):
        with pytest.raises(Unauthenticated):
            tokens.access_token_verify("alpha-app", ".".join((header, _b64(orjson.dumps(changed)), signature)))
    # alg=none, and HS256 keyed with the public key (algorithm confusion).
    none_header = _b64(orjson.dumps({"alg": "none", "kid": orjson.loads(_segments(token)[0])["kid"]}))
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", f"{none_header}.{payload}.")
    public_pem = SigningKey.objects.for_project("alpha-app").get().public_key_pem
    confused = _b64(orjson.dumps({"alg": "HS256", "kid": orjson.loads(_segments(token)[0])["kid"]}))
    import hashlib
    import hmac

    mac = hmac.new(public_pem.encode(), f"{confused}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", f"{confused}.{payload}.{_b64(mac)}")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_a_token_is_refused(project: Any, enduser_token: Any, data: Any) -> None:
    token = enduser_token(project, "user-1", {"role": "user"})
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[position]))
    mutated = token[:position] + replacement + token[position + 1 :]
    try:
        same = _segments(mutated) == _segments(token)
    except (ValueError, TypeError):
        same = False
    if same:  # a base64 padding bit: the same bytes, so the same token
        return
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", mutated)


def test_unknown_kid_and_foreign_keys_are_refused(project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1")
    real_kid = orjson.loads(_segments(token)[0])["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    stranger = ec.generate_private_key(ec.SECP256R1())
    for kid in ("no-such-kid", real_kid):
        forged = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": kid})
        with pytest.raises(Unauthenticated):
            tokens.access_token_verify("alpha-app", forged)
    no_kid = jwt.encode(claims, stranger, algorithm="ES256")
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", no_kid)


def test_jwks_verifies_a_token_with_pyjwt_alone(api: Any, project: Any, other_project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1", {"role": "admin"})
    response = api.get("/v1/projects/alpha-app/auth/jwks.json")
    assert response.status == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    (published,) = response.body["keys"]
    assert set(published) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # never "d"
    assert (published["kty"], published["crv"], published["alg"], published["use"]) == ("EC", "P-256", "ES256", "sig")
    jwk_set = jwt.PyJWKSet.from_dict(response.body)
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, jwk_set[kid].key, algorithms=["ES256"], audience="alpha-app", issuer=ISS)
    assert claims["sub"] == "user-1" and claims["role"] == "admin"
    beta = api.get("/v1/projects/beta-app/auth/jwks.json").body
    assert kid not in {k["kid"] for k in beta["keys"]}
    missing = api.get("/v1/projects/gamma-app/auth/jwks.json")
    assert missing.status == 404 and missing.error_code == "not_found"


def test_private_keys_are_sealed_at_rest_and_never_published(api: Any, project: Any, enduser_token: Any) -> None:
    enduser_token(project, "user-1")
    row = SigningKey.objects.for_project("alpha-app").get()
    assert "PRIVATE" not in row.private_key_sealed and row.kid not in repr(row.private_key_sealed)
    private_key = serialization.load_der_private_key(secret_open(row.private_key_sealed), password=None)
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_pem.decode() == row.public_key_pem
    d = _b64(private_key.private_numbers().private_value.to_bytes(32, "big"))
    body = api.get("/v1/projects/alpha-app/auth/jwks.json").body
    assert d not in orjson.dumps(body).decode() and "d" not in body["keys"][0]


def test_rotation_keeps_old_tokens_valid_until_they_expire(api: Any, project: Any, enduser_token: Any) -> None:
    old = enduser_token(project, "user-1")
    old_kid = jwt.get_unverified_header(old)["kid"]
    keys.signing_key_rotate(project_id="alpha-app")
    new = enduser_token(project, "user-1")
    new_kid = jwt.get_unverified_header(new)["kid"]
    assert new_kid != old_kid
    keys.local_clear()  # another process, with nothing cached
    assert tokens.access_token_verify("alpha-app", old)["uid"] == "user-1"
    assert tokens.access_token_verify("alpha-app", new)["uid"] == "user-1"
    assert [k["kid"] for k in api.get("/v1/projects/alpha-app/auth/jwks.json").body["keys"]] == [new_kid, old_kid]
    # Once the longest token lifetime has passed since retirement, the key is gone.
    SigningKey.objects.for_project("alpha-app").filter(kid=old_kid).update(
        retired_at=timezone.now() - timedelta(days=1, seconds=1)
    )
    keys.local_clear()
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", old)
    assert [k["kid"] for k in api.get("/v1/projects/alpha-app/auth/jwks.json").body["keys"]] == [new_kid]
    assert keys.signing_keys_purge(project_id="alpha-app") == 1
    assert list(SigningKey.objects.for_project("alpha-app").values_list("kid", flat=True)) == [new_kid]


def test_verification_needs_no_query_once_the_key_is_cached(
    project: Any, enduser_token: Any, django_assert_num_queries: Any
) -> None:
    token = enduser_token(project, "user-1")
    keys.local_clear()
    with django_assert_num_queries(1):
        tokens.access_token_verify("alpha-app", token)
    with django_assert_num_queries(0):
        for _ in range(50):
            tokens.access_token_verify("alpha-app", token)


def _signature_checks(monkeypatch: Any) -> list[str]:
    """Count the ES256 checks verification makes (PyJWT's decode)."""
    calls: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    return calls


def test_a_token_verified_lately_skips_the_signature_check(project: Any, enduser_token: Any, monkeypatch: Any) -> None:
    checks = _signature_checks(monkeypatch)
    token = enduser_token(project, "user-1", {"role": "x"})
    first = tokens.access_token_verify("alpha-app", token)
    for _ in range(20):
        assert tokens.access_token_verify("alpha-app", token) == first
    assert tokens.access_token_verify_cached("alpha-app", token) == first
    assert len(checks) == 1
    # Each caller gets its own copy.
    first["token"]["role"] = "admin"
    assert tokens.access_token_verify("alpha-app", token)["token"]["role"] == "x"
    # A lapsed or replaced key-cache entry means a full check again.
    keys.local_clear()
    assert tokens.access_token_verify("alpha-app", token)["uid"] == "user-1"
    assert len(checks) == 2


def test_a_token_verified_lately_still_expires_and_stays_in_its_project(
    project: Any, other_project: Any, enduser_token: Any, monkeypatch: Any
) -> None:
    token = enduser_token(project, "user-1", lifetime=60)
    exp = tokens.access_token_verify("alpha-app", token)["token"]["exp"]
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("beta-app", token)
    monkeypatch.setattr(tokens, "_now", lambda: exp)
    for verify in (tokens.access_token_verify, tokens.access_token_verify_cached):
        with pytest.raises(Unauthenticated) as raised:
            verify("alpha-app", token)
        assert raised.value.details == {"reason": "expired"}


def test_a_retired_key_past_publication_stops_a_verified_token(project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1")
    tokens.access_token_verify("alpha-app", token)
    keys.signing_key_rotate(project_id="alpha-app")
    SigningKey.objects.for_project("alpha-app").exclude(retired_at=None).update(
        retired_at=timezone.now() - timedelta(days=1, seconds=1)
    )
    keys.local_clear()  # what the key cache's one-minute lapse does
    with pytest.raises(Unauthenticated):
        tokens.access_token_verify("alpha-app", token)


def test_the_verified_token_cache_is_bounded(project: Any, enduser_token: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_MAX", 5)
    minted = [enduser_token(project, f"user-{i}") for i in range(8)]
    for token in minted:
        tokens.access_token_verify("alpha-app", token)
    assert len(tokens._verified) == 5
    assert [key[1] for key in tokens._verified] == minted[3:]
    checks = _signature_checks(monkeypatch)
    tokens.access_token_verify("alpha-app", minted[3])  # kept, and now the most recent
    tokens.access_token_verify("alpha-app", minted[0])  # evicted: checked again
    assert checks == [minted[0]]
    assert [key[1] for key in tokens._verified] == [*minted[5:], minted[3], minted[0]]


def test_the_cached_path_verifies_or_defers(project: Any, enduser_token: Any) -> None:
    token = enduser_token(project, "user-1", {"role": "x"})
    _ctx(project, None)  # warms the key cache
    keys.local_clear()
    assert authenticate_cached(project_id="alpha-app", api_key=project.publishable_key, authorization=f"Bearer {token}") is None
    _ctx(project, token)  # warms both caches again
    from baas.api import authentication

    authentication._last_touch[authentication.caching.api_key_peek(  # type: ignore[union-attr]
        authentication.secret_hash(project.publishable_key)).key_id] = 10**12
    ctx = authenticate_cached(project_id="alpha-app", api_key=project.publishable_key, authorization=f"Bearer {token}")
    assert ctx is not None and ctx.auth["uid"] == "user-1" and ctx.auth["token"]["role"] == "x"
    with pytest.raises(Unauthenticated):
        authenticate_cached(project_id="alpha-app", api_key=project.publishable_key, authorization=f"Bearer {token}x")
    assert authenticate_cached(project_id="alpha-app", api_key=project.publishable_key).auth is None


@pytest.mark.parametrize(
    ("claims", "kw"),
    [
        ({"sub": "other"}, {}),
        ({"email": "x@example.com"}, {}),
        ({"anonymous": False}, {}),
        ({"big": "x" * 1000}, {}),
        ({"bad": object()}, {}),
        ([1], {}),
        ({}, {"lifetime": 0}),
        ({}, {"lifetime": 86401}),
    ],
    ids=["sub", "email", "anonymous", "oversized", "not-json", "not-object", "zero-lifetime", "too-long"],
)
def test_minting_refuses_reserved_or_bad_claims(project: Any, enduser_token: Any, claims: Any, kw: Any) -> None:
    with pytest.raises(InvalidArgument):
        tokens.access_token_mint("alpha-app", "user-1", claims, **kw)


def test_minting_refuses_bad_uids(project: Any) -> None:
    for uid in ("", "x" * 129, "a\nb", None):
        with pytest.raises(InvalidArgument):
            tokens.access_token_mint("alpha-app", uid, {})  # type: ignore[arg-type]


def test_a_real_server_verifies_tokens_on_every_path(asgi_server: Any, project: Any, other_project: Any, enduser_token: Any) -> None:
    """The ASGI edge (event-loop fast path once caches are warm, and the threaded path)
    and the JWKS fetched over HTTP by PyJWT's own client."""
    token = enduser_token(project, "user-1")
    url = f"{asgi_server.url}/v1/projects/alpha-app/collections/posts/documents"
    headers = {"X-Api-Key": project.publishable_key}

    def create(bearer: str) -> requests.Response:
        return requests.post(url, json={"data": {}}, headers={**headers, "Authorization": f"Bearer {bearer}"}, timeout=30)

    for _ in range(3):  # the first call warms the server's caches; later ones take the fast path
        assert create(token).status_code == 403
        assert create(token + "x").status_code == 401
        assert create(enduser_token(other_project, "user-1")).status_code == 401
    assert requests.get(f"{url}/p1", headers={**headers, "Authorization": f"Bearer {token}x"}, timeout=30).status_code == 401
    client = jwt.PyJWKClient(f"{asgi_server.url}/v1/projects/alpha-app/auth/jwks.json")
    claims = jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=["ES256"], audience="alpha-app", issuer=ISS)
    assert claims["sub"] == "user-1"
