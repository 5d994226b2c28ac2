"""Sign-in through OAuth 2 / OpenID Connect providers, with PKCE (S256), ``state`` and
``nonce``, through Authlib's client.

Google, Apple and any OIDC issuer are found by discovery; their ID tokens are checked
against the issuer's JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``). GitHub is
plain OAuth 2: the user comes from its API. A provider account signs in as the user it
was linked to; else, with a verified email, as the user with that email (account linking);
else as a new user. The callback sends the browser back only to an allow-listed app URI,
with the tokens in the fragment (never in a query string a server would log).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import orjson
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.db import IntegrityError, transaction
from django.utils import timezone

from baas.api.context import RequestContext
from baas.api.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from endusers import services
from endusers.crypto import secret_open, secret_seal
from endusers.models import AuthConfig, EndUser, EndUserIdentity, OAuthProvider, OAuthState
from endusers.tokens import project_issuer
from projects.services import secret_hash

STATE_LIFETIME = 600
HTTP_TIMEOUT = 10
ISSUERS = {"google": "https://accounts.google.com", "apple": "https://appleid.apple.com"}
DEFAULT_SCOPES = {"google": "openid email profile", "apple": "openid email name", "oidc": "openid email profile", "github": "read:user user:email"}
GITHUB = {
    "authorization_endpoint": "https://github.com/login/oauth/authorize",
    "token_endpoint": "https://github.com/login/oauth/access_token",
    "userinfo_endpoint": "https://api.github.com/user",
}
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


def _discovery(issuer: str) -> dict[str, Any]:
    cached = _discovered.get(issuer)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = requests.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError):
        raise Unauthenticated("The sign-in provider could not be reached.", details={"reason": "provider_unavailable"}) from None
    _discovered[issuer] = (time.monotonic() + 3600, document)
    return document  # type: ignore[no-any-return]


def _endpoints(provider: OAuthProvider) -> dict[str, Any]:
    if provider.kind == "github":
        return GITHUB
    return _discovery(provider.issuer or ISSUERS[provider.kind])


def callback_url(project_id: str, name: str) -> str:
    return f"{project_issuer(project_id)}/auth/oauth/{name}/callback"


def _provider(project_id: str, name: str) -> OAuthProvider:
    provider = OAuthProvider.objects.for_project(project_id).filter(name=name).first()
    if provider is None:
        raise NotFound("No such sign-in provider in this project.")
    return provider


def _client(provider: OAuthProvider) -> OAuth2Session:
    secret = secret_open(provider.client_secret_sealed).decode() if provider.client_secret_sealed else None
    return OAuth2Session(
        client_id=provider.client_id,
        client_secret=secret,
        scope=provider.scopes or DEFAULT_SCOPES[provider.kind],
        redirect_uri=callback_url(provider.project_id, provider.name),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if secret else "none",
    )


# --- admin: providers and redirect URIs ----------------------------------------------------


def provider_json(provider: OAuthProvider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "kind": provider.kind,
        "clientId": provider.client_id,
        "clientSecretSet": bool(provider.client_secret_sealed),
        "issuer": provider.issuer or ISSUERS.get(provider.kind),
        "scopes": provider.scopes or DEFAULT_SCOPES[provider.kind],
        "callbackUrl": callback_url(provider.project_id, provider.name),
    }


def provider_set(*, ctx: RequestContext, name: str, data: dict[str, Any]) -> OAuthProvider:
    import re

    if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", name):
        raise InvalidArgument("Provider names are 1-40 characters: a-z first, then a-z, 0-9 or '-'.", details={"field": "name"})
    unknown = sorted(set(data) - {"kind", "clientId", "clientSecret", "issuer", "scopes"})
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(unknown)}.", details={"fields": unknown})
    kind = data.get("kind")
    if kind not in dict(OAuthProvider.KINDS):
        raise InvalidArgument("'kind' must be google, github, apple or oidc.", details={"field": "kind"})
    for field in ("clientId", "clientSecret", "issuer", "scopes"):
        if data.get(field) is not None and (not isinstance(data[field], str) or len(data[field]) > 500):
            raise InvalidArgument(f"'{field}' must be a string of at most 500 characters.", details={"field": field})
    if not data.get("clientId"):
        raise InvalidArgument("'clientId' is required.", details={"field": "clientId"})
    issuer = data.get("issuer") or ""
    if kind == "oidc" and not issuer.startswith(("https://", "http://")):
        raise InvalidArgument("An OIDC provider needs its 'issuer' URL.", details={"field": "issuer"})
    provider = OAuthProvider.objects.for_project(ctx.project_id).filter(name=name).first() or OAuthProvider(
        project_id=ctx.project_id, name=name
    )
    provider.kind, provider.client_id, provider.issuer = kind, data["clientId"], issuer
    provider.scopes = data.get("scopes") or ""
    if "clientSecret" in data:
        provider.client_secret_sealed = secret_seal(data["clientSecret"].encode()) if data["clientSecret"] else ""
    provider.save()
    return provider


def providers_list(*, project_id: str) -> list[OAuthProvider]:
    return list(OAuthProvider.objects.for_project(project_id).order_by("name"))


def provider_delete(*, project_id: str, name: str) -> None:
    OAuthProvider.objects.for_project(project_id).filter(name=name).delete()


def redirect_uris(project_id: str) -> list[str]:
    return AuthConfig.objects.for_project(project_id).values_list("redirect_uris", flat=True).first() or []


# --- the flow -------------------------------------------------------------------------------


def authorize_url(*, project_id: str, name: str, redirect_uri: Any) -> str:
    """Where to send the browser: the provider's consent page, with state, nonce and
    the PKCE challenge. The app's ``redirect_uri`` must be on the allow-list."""
    if not isinstance(redirect_uri, str) or redirect_uri not in redirect_uris(project_id):
        raise InvalidArgument("redirect_uri is not allowed for this project.", details={"field": "redirect_uri"})
    provider = _provider(project_id, name)
    endpoints = _endpoints(provider)
    state, verifier, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    OAuthState.objects.for_project(project_id).create(
        project_id=project_id,
        provider=name,
        state_hash=secret_hash(state),
        secrets_sealed=secret_seal(orjson.dumps({"verifier": verifier, "nonce": nonce})),
        redirect_uri=redirect_uri,
        expires_at=timezone.now() + timedelta(seconds=STATE_LIFETIME),
    )
    extra = {"nonce": nonce} if provider.kind != "github" else {}
    if provider.kind == "apple":
        extra["response_mode"] = "form_post"
    url, _ = _client(provider).create_authorization_url(
        endpoints["authorization_endpoint"], state=state, code_verifier=verifier, **extra
    )
    return url  # type: ignore[no-any-return]


def _state_take(project_id: str, name: str, state: Any) -> tuple[OAuthState, dict[str, str]]:
    if not isinstance(state, str) or not state:
        raise InvalidArgument("The sign-in state is missing or does not match.", details={"field": "state"})
    rows = OAuthState.objects.for_project(project_id)
    row = rows.filter(state_hash=secret_hash(state), provider=name).first()
    if row is None or row.expires_at <= timezone.now():
        raise InvalidArgument("The sign-in state is missing or does not match.", details={"field": "state"})
    if rows.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now()) != 1:
        raise InvalidArgument("This sign-in was already completed.", details={"field": "state"})
    return row, orjson.loads(secret_open(row.secrets_sealed))


def _profile(provider: OAuthProvider, token: dict[str, Any], nonce: str, client: OAuth2Session) -> dict[str, Any]:
    """{subject, email, email_verified, name} from the ID token (OIDC) or the API (GitHub)."""
    if provider.kind == "github":
        user = client.get(GITHUB["userinfo_endpoint"], timeout=HTTP_TIMEOUT).json()
        emails = client.get("https://api.github.com/user/emails", timeout=HTTP_TIMEOUT).json()
        primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), {}) if isinstance(emails, list) else {}
        return {"subject": str(user["id"]), "email": primary.get("email"), "email_verified": bool(primary.get("verified")), "name": user.get("name") or ""}
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise Unauthenticated("The provider returned no ID token.")
    endpoints = _endpoints(provider)
    try:
        jwks = jwt.PyJWKSet.from_dict(requests.get(endpoints["jwks_uri"], timeout=HTTP_TIMEOUT).json())
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next(k for k in jwks.keys if kid is None or k.key_id == kid)
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256", "ES256", "PS256"],
            audience=provider.client_id,
            issuer=endpoints["issuer"],
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except (jwt.PyJWTError, StopIteration, requests.RequestException, ValueError, KeyError):
        raise Unauthenticated("The provider's ID token is not valid.") from None
    if claims.get("nonce") != nonce:
        raise Unauthenticated("The provider's ID token is not valid.")
    verified = claims.get("email_verified")
    return {
        "subject": str(claims["sub"]),
        "email": claims.get("email"),
        "email_verified": verified is True or verified == "true",
        "name": claims.get("name") or "",
    }


def _user_for(ctx: RequestContext, name: str, profile: dict[str, Any]) -> EndUser:
    identities = EndUserIdentity.objects.for_project(ctx.project_id)
    found = identities.select_related("user").filter(provider=name, subject=profile["subject"]).first()
    if found is not None:
        return found.user
    email = profile["email"] if isinstance(profile["email"], str) and profile["email_verified"] else None
    user = None
    if email:
        user = EndUser.objects.for_project(ctx.project_id).filter(email_normalized=email.strip().casefold()).first()
        if user is not None and not user.email_verified:
            # Whoever registered this address never proved it: their password and
            # sessions must not survive into the verified owner's account.
            user.password = ""
            user.email_verified = True
            user.save(update_fields=["password", "email_verified", "updated_at"])
            services.sessions_revoke(project_id=ctx.project_id, user=user)
    if user is None:
        display = profile["name"][:200] if isinstance(profile["name"], str) and profile["name"].isprintable() else ""
        user = services.user_create(ctx=ctx, email=email, display_name=display, email_verified=bool(email))
    try:
        with transaction.atomic():
            identities.create(project_id=ctx.project_id, user=user, provider=name, subject=profile["subject"], email=email or "")
    except IntegrityError:
        raise AlreadyExists("This provider account was linked concurrently; sign in again.") from None
    return user


def callback(*, ctx: RequestContext, name: str, params: dict[str, Any]) -> str:
    """Complete a sign-in; returns the app URI to redirect to, tokens in the fragment.
    A bad or replayed ``state`` is 400 and redirects nowhere."""
    row, held = _state_take(ctx.project_id, name, params.get("state"))
    if params.get("error"):
        return f"{row.redirect_uri}#{urlencode({'error': str(params['error'])[:100]})}"
    code = params.get("code")
    if not isinstance(code, str) or not code:
        raise InvalidArgument("The provider returned no code.", details={"field": "code"})
    provider = _provider(ctx.project_id, name)
    client = _client(provider)
    try:
        token = client.fetch_token(_endpoints(provider)["token_endpoint"], code=code, code_verifier=held["verifier"], timeout=HTTP_TIMEOUT)
    except Exception:  # the provider's refusal or an unreachable provider, in many shapes
        raise Unauthenticated("The provider refused the sign-in.") from None
    profile = _profile(provider, token, held["nonce"], client)
    with transaction.atomic():
        user = _user_for(ctx, name, profile)
        if user.disabled:
            raise PermissionDenied("This account is disabled.")
        session = services.session_start(user)
    fragment = urlencode(
        {"accessToken": session.access_token, "refreshToken": session.refresh_token, "expiresIn": session.expires_in, "uid": user.uid}
    )
    return f"{row.redirect_uri}#{fragment}"

