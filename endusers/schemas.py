"""OpenAPI shapes of end-user auth and the users admin (SPEC.md §End-user auth)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes

from baas.api.schema import (
    ANY_OBJECT,
    BOOLEAN,
    CURSOR,
    CURSOR_PARAM,
    INTEGER,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    array,
    component,
    nullable,
    obj,
    query,
)

USER = component(
    "User",
    obj(
        {
            "uid": STRING,
            "email": nullable(STRING),
            "emailVerified": BOOLEAN,
            "displayName": nullable(STRING),
            "anonymous": BOOLEAN,
            "disabled": BOOLEAN,
            "providers": STRING_LIST,
            "claims": ANY_OBJECT,
            "data": ANY_OBJECT,
            "createTime": TIMESTAMP,
            "updateTime": TIMESTAMP,
            "lastSignInTime": nullable(TIMESTAMP),
        },
        ["uid", "email", "emailVerified", "displayName", "anonymous", "disabled", "providers", "claims", "data", "createTime"],
    ),
)
USER_ENVELOPE = component("UserEnvelope", obj({"user": USER}, ["user"]))
USER_LIST = component("UserList", obj({"users": array(USER), "nextCursor": CURSOR}, ["users", "nextCursor"]))
SESSION = component(
    "Session",
    obj(
        {"user": USER, "accessToken": STRING, "refreshToken": STRING, "expiresIn": {"type": "integer", "description": "Seconds."}},
        ["user", "accessToken", "refreshToken", "expiresIn"],
    ),
)
CREDENTIALS = component(
    "Credentials",
    obj({"email": STRING, "password": STRING}, ["email", "password"], additionalProperties=False),
)
SIGNUP = component(
    "SignupRequest",
    obj({"email": STRING, "password": STRING, "displayName": STRING}, ["email", "password"], additionalProperties=False),
)
REFRESH = component("RefreshRequest", obj({"refreshToken": STRING}, ["refreshToken"], additionalProperties=False))
ME_UPDATE = component("MeUpdate", obj({"displayName": nullable(STRING), "data": ANY_OBJECT}, additionalProperties=False))
PASSWORD_CHANGE = component(
    "PasswordChange", obj({"currentPassword": STRING, "newPassword": STRING}, ["currentPassword", "newPassword"], additionalProperties=False)
)
EMAIL = component("EmailRequest", obj({"email": STRING}, ["email"], additionalProperties=False))
TOKEN = component("TokenRequest", obj({"token": STRING}, ["token"], additionalProperties=False))
PASSWORD_RESET_CONFIRM = component(
    "PasswordResetConfirm", obj({"token": STRING, "newPassword": STRING}, ["token", "newPassword"], additionalProperties=False)
)
_ADMIN_FIELDS = {
    "disabled": BOOLEAN,
    "claims": ANY_OBJECT,
    "email": nullable(STRING),
    "emailVerified": BOOLEAN,
    "password": STRING,
    "displayName": nullable(STRING),
    "data": ANY_OBJECT,
}
USER_CREATE = component("UserCreate", obj({"uid": STRING, **_ADMIN_FIELDS}, additionalProperties=False))
USER_UPDATE = component("UserUpdate", obj(_ADMIN_FIELDS, additionalProperties=False))
CUSTOM_TOKEN_REQUEST = component("CustomTokenRequest", obj({"uid": STRING, "claims": ANY_OBJECT}, ["uid"], additionalProperties=False))
CUSTOM_TOKEN = component("CustomToken", obj({"token": STRING, "expiresIn": INTEGER}, ["token", "expiresIn"]))
ACCEPTED = component("Accepted", obj({}))
AUTH_CONFIG = component(
    "AuthConfig",
    obj(
        {
            "accessTokenLifetime": INTEGER,
            "accessTokenLifetimeDefault": BOOLEAN,
            "emailActionUrl": nullable(STRING),
            "redirectUris": STRING_LIST,
            "emailTemplates": obj({}, additionalProperties=nullable(ANY_OBJECT)),
        },
        ["accessTokenLifetime", "emailActionUrl", "redirectUris"],
    ),
)
AUTH_CONFIG_UPDATE = component(
    "AuthConfigUpdate",
    obj(
        {"accessTokenLifetime": nullable(INTEGER), "emailActionUrl": nullable(STRING), "redirectUris": STRING_LIST,
         "emailTemplates": ANY_OBJECT},
        additionalProperties=False,
    ),
)  # fmt: skip
SIGNING_KEY = component("SigningKey", obj({"kid": STRING}, ["kid"]))
JWKS = component("Jwks", obj({"keys": array(ANY_OBJECT)}, ["keys"]))
OAUTH_PROVIDER = component(
    "OAuthProvider",
    obj(
        {"name": STRING, "kind": STRING, "clientId": STRING, "clientSecretSet": BOOLEAN, "issuer": nullable(STRING),
         "scopes": STRING_LIST, "callbackUrl": STRING},
        ["name", "kind", "clientId", "clientSecretSet", "scopes", "callbackUrl"],
    ),
)  # fmt: skip
OAUTH_PROVIDER_SET = component(
    "OAuthProviderSet",
    obj({"kind": STRING, "clientId": STRING, "clientSecret": STRING, "issuer": STRING, "scopes": STRING_LIST}, additionalProperties=False),
)
OAUTH_PROVIDER_LIST = component("OAuthProviderList", obj({"providers": array(OAUTH_PROVIDER)}, ["providers"]))

USERS_LIST_PARAMETERS = [
    query("search", "Matches the start of an email, a display name or a uid (at most 254 characters)."),
    CURSOR_PARAM,
    query("limit", "Page size, 1-1000 (default 100).", OpenApiTypes.INT),
]
