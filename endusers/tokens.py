"""Access tokens: JWTs signed with the project's key, verified offline by anyone with
the project's JWKS.

The verified value is the ``auth`` variable of security rules:
``{"uid", "token": {<custom claims>, "email", "email_verified", "anonymous", "sub",
"iat", "exp", "aud", "iss"}}``. Custom claims sit flat in the JWT payload, as Firebase
puts them, so a project's own backend reads them without a translation step.

PyJWT directly rather than simplejwt's ``TokenBackend``: that backend signs with one
global key and writes no ``kid`` header, and per-project keys found by ``kid`` are the
point here.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import orjson
from django.conf import settings

from baas.api.errors import InvalidArgument, Unauthenticated
from endusers import keys

STANDARD_CLAIMS = frozenset({"sub", "iat", "exp", "aud", "iss", "nbf", "jti", "kid"})
RESERVED_CLAIMS = STANDARD_CLAIMS | {
    "email", "email_verified", "anonymous", "uid", "auth_time", "firebase", "user_id", "azp", "typ", "token_use",
}
MAX_CLAIMS_BYTES = 1000
MAX_UID_LENGTH = 128
_REQUIRED = ["exp", "iat", "sub", "aud", "iss"]
_OPTIONS = {"require": _REQUIRED, "verify_exp": False, "verify_iat": False, "verify_nbf": False}


def _now() -> int:
    """The clock tokens are minted and checked against (one place, so tests can move it)."""
    return int(time.time())


def project_issuer(project_id: str) -> str:
    """The ``iss`` of a project's tokens: the project's URL under this deployment."""
    return f"{settings.BAAS_PUBLIC_URL}/v1/projects/{project_id}"


def claims_check(claims: Any, *, field: str = "claims") -> dict[str, Any]:
    """Custom claims: a JSON object of at most 1000 bytes that names no reserved claim."""
    if claims is None:
        return {}
    if not isinstance(claims, dict):
        raise InvalidArgument(f"'{field}' must be a JSON object.", details={"field": field})
    reserved = sorted(name for name in claims if name in RESERVED_CLAIMS)
    if reserved:
        raise InvalidArgument(
            f"'{field}' may not set reserved claims: {', '.join(reserved)}.", details={"field": field, "reserved": reserved}
        )
    try:
        encoded = orjson.dumps(claims)
    except TypeError:
        raise InvalidArgument(f"'{field}' must be plain JSON.", details={"field": field}) from None
    if len(encoded) > MAX_CLAIMS_BYTES:
        raise InvalidArgument(
            f"'{field}' must encode to at most {MAX_CLAIMS_BYTES} bytes.", details={"field": field, "limitBytes": MAX_CLAIMS_BYTES}
        )
    return claims


def uid_check(uid: Any, *, field: str = "uid") -> str:
    """Any printable text but '/' and spaces (uids appear in URL paths)."""
    if (
        not isinstance(uid, str)
        or not 1 <= len(uid) <= MAX_UID_LENGTH
        or not uid.isprintable()
        or "/" in uid
        or any(c.isspace() for c in uid)
    ):
        raise InvalidArgument(
            f"'{field}' must be 1-{MAX_UID_LENGTH} printable characters, without '/' or spaces.", details={"field": field}
        )
    return uid


def _lifetime_seconds(lifetime: int | float | timedelta | None) -> int:
    if lifetime is None:
        return int(settings.BAAS_AUTH_ACCESS_TOKEN_LIFETIME)
    seconds = int(lifetime.total_seconds() if isinstance(lifetime, timedelta) else lifetime)
    if not 1 <= seconds <= settings.BAAS_AUTH_MAX_TOKEN_LIFETIME:
        raise InvalidArgument(f"Token lifetime must be 1-{settings.BAAS_AUTH_MAX_TOKEN_LIFETIME} seconds.")
    return seconds


def access_token_mint(
    project_id: str,
    uid: str,
    claims: dict[str, Any] | None = None,
    *,
    email: str | None = None,
    email_verified: bool = False,
    anonymous: bool = False,
    lifetime: int | float | timedelta | None = None,
) -> str:
    """Sign an access token for ``uid`` with the project's current key.

    Raises InvalidArgument for reserved or oversized claims; creates the project's first
    key when it has none (so this may write, outside any caller's lock).
    """
    uid_check(uid)
    custom = claims_check(claims)
    now = _now()
    payload = {
        **custom,
        "email": email,
        "email_verified": bool(email_verified),
        "anonymous": bool(anonymous),
        "sub": uid,
        "iat": now,
        "exp": now + _lifetime_seconds(lifetime),
        "aud": project_id,
        "iss": project_issuer(project_id),
    }
    signer = keys.signer_for(project_id)
    return jwt.encode(payload, signer.private_key, algorithm=keys.ALGORITHM, headers={"kid": signer.kid})


def _kid_of(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("Invalid access token.") from None
    kid = header.get("kid")
    if header.get("alg") != keys.ALGORITHM or not isinstance(kid, str) or not kid:
        raise Unauthenticated("Invalid access token.")
    return kid


def _decode(project_id: str, token: str, public_key: Any) -> dict[str, Any]:
    if public_key is None:
        raise Unauthenticated("Invalid access token.")
    try:
        payload = jwt.decode(
            token,
            public_key,
            algorithms=[keys.ALGORITHM],
            audience=project_id,
            issuer=project_issuer(project_id),
            options=_OPTIONS,  # type: ignore[arg-type]
        )
    except jwt.PyJWTError:
        raise Unauthenticated("Invalid access token.") from None
    # Expiry against our own clock, with no leeway: a token is good until ``exp``.
    exp, sub = payload.get("exp"), payload.get("sub")
    if not isinstance(exp, int) or exp <= _now():
        raise Unauthenticated("The access token has expired.", details={"reason": "expired"})
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("Invalid access token.")
    return {"uid": sub, "token": payload}


# --- tokens verified lately -----------------------------------------------------------------
# A client sends the same token on every call for its whole lifetime, and an ES256 check
# costs about 0.2 ms of CPU, most of what a signed-in read adds. So each process keeps
# the last VERIFIED_MAX tokens it verified, keyed by (project, token string). A hit still
# checks ``exp`` against the clock, and counts only while the public key that verified it
# is the very object in the key cache: when that entry lapses (a minute), is replaced, or
# the key stops being published, the token is verified again from scratch.

VERIFIED_MAX = 4096
_verified: OrderedDict[tuple[str, str], tuple[str, Any, int, dict[str, Any]]] = OrderedDict()
_verified_lock = threading.Lock()


def _auth_of(payload: dict[str, Any]) -> dict[str, Any]:
    """A fresh top-level copy per caller, so one request's changes never reach another's."""
    return {"uid": payload["sub"], "token": dict(payload)}


def _verified_get(project_id: str, token: str) -> dict[str, Any] | None:
    entry = _verified.get((project_id, token))
    if entry is None:
        return None
    kid, public_key, exp, payload = entry
    if exp <= _now():
        with _verified_lock:
            _verified.pop((project_id, token), None)
        raise Unauthenticated("The access token has expired.", details={"reason": "expired"})
    if keys.public_key_peek(project_id, kid) is not public_key:
        return None
    with _verified_lock:
        if (project_id, token) in _verified:
            _verified.move_to_end((project_id, token))
    return _auth_of(payload)


def _verified_put(project_id: str, token: str, kid: str, public_key: Any, auth: dict[str, Any]) -> None:
    payload = auth["token"]
    with _verified_lock:
        _verified[(project_id, token)] = (kid, public_key, payload["exp"], payload)
        while len(_verified) > VERIFIED_MAX:
            _verified.popitem(last=False)


def _verify_with(project_id: str, token: str, kid: str, public_key: Any) -> dict[str, Any]:
    auth = _decode(project_id, token, public_key)
    _verified_put(project_id, token, kid, public_key, auth)
    return _auth_of(auth["token"])


def access_token_verify(project_id: str, token: str) -> dict[str, Any]:
    """The rules' ``auth`` value for a token of ``project_id``; Unauthenticated (401) for
    another project's, an expired, a tampered or an unknown-key token.

    No I/O once the key is in the process cache (one indexed query per kid a minute), and
    no signature check for a token this process verified lately.
    """
    found = _verified_get(project_id, token)
    if found is not None:
        return found
    kid = _kid_of(token)
    return _verify_with(project_id, token, kid, keys.public_key_lookup(project_id, kid))


def access_token_verify_cached(project_id: str, token: str) -> dict[str, Any] | None:
    """``access_token_verify`` without I/O, for code on an event loop: None when the key
    is not in the process cache (the caller takes the general path)."""
    found = _verified_get(project_id, token)
    if found is not None:
        return found
    kid = _kid_of(token)
    public_key = keys.public_key_peek(project_id, kid)
    if public_key is False:
        return None
    return _verify_with(project_id, token, kid, public_key)


# --- custom tokens (a project's own backend vouches for a user) ---------------------------

CUSTOM_TOKEN_LIFETIME = 600


def custom_token_audience(project_id: str) -> str:
    """Not the project id: a custom token must never pass as an access token."""
    return f"{project_issuer(project_id)}/auth/custom-token"


@dataclass(frozen=True, slots=True)
class CustomToken:
    uid: str
    claims: dict[str, Any]
    jti: str  # what the exchange records, so the token works once
    exp: int


def custom_token_mint(project_id: str, uid: str, claims: dict[str, Any] | None = None) -> str:
    uid_check(uid)
    custom = claims_check(claims)
    now = _now()
    payload = {
        "sub": uid,
        "claims": custom,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + CUSTOM_TOKEN_LIFETIME,
        "aud": custom_token_audience(project_id),
        "iss": project_issuer(project_id),
    }
    signer = keys.signer_for(project_id)
    return jwt.encode(payload, signer.private_key, algorithm=keys.ALGORITHM, headers={"kid": signer.kid})


def custom_token_verify(project_id: str, token: Any) -> CustomToken:
    """A custom token of this project, checked but not yet spent; Unauthenticated otherwise."""
    if not isinstance(token, str) or len(token) > 8192:
        raise Unauthenticated("Invalid custom token.")
    try:
        kid = _kid_of(token)
        public_key = keys.public_key_lookup(project_id, kid)
        if public_key is None:
            raise Unauthenticated("Invalid custom token.")
        payload = jwt.decode(
            token,
            public_key,
            algorithms=[keys.ALGORITHM],
            audience=custom_token_audience(project_id),
            issuer=project_issuer(project_id),
            options=_OPTIONS,  # type: ignore[arg-type]
        )
    except (jwt.PyJWTError, Unauthenticated):
        raise Unauthenticated("Invalid custom token.") from None
    exp, sub, claims = payload.get("exp"), payload.get("sub"), payload.get("claims", {})
    if not isinstance(exp, int) or exp <= _now():
        raise Unauthenticated("The custom token has expired.", details={"reason": "expired"})
    if not isinstance(sub, str) or not isinstance(claims, dict):
        raise Unauthenticated("Invalid custom token.")
    jti = payload.get("jti")
    if jti is None:
        # Minted before tokens carried an id: the signed part names it. Not the whole
        # token, whose ECDSA signature can be re-encoded into a second valid one.
        jti = hashlib.sha256(token.rpartition(".")[0].encode()).hexdigest()
    elif not isinstance(jti, str) or not 1 <= len(jti) <= 64:
        raise Unauthenticated("Invalid custom token.")
    return CustomToken(sub, claims, jti, exp)
