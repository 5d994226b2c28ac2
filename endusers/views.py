"""REST edges of end-user auth: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.authentication import client_ip
from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument
from baas.api.inputs import body_object
from baas.api.schema import errors, json_body, query, responses
from baas.api.views import ApiView, ProjectApiView
from endusers import config, keys, oauth, selectors, services, tokens
from endusers import schemas as s

JWKS_MAX_AGE = 300


def fields_of(request: Request, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """The JSON body, refusing unknown fields (a typo must not pass silently)."""
    data = body_object(request)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(unknown)}.", details={"fields": unknown})
    for name in sorted(required):
        if not isinstance(data.get(name), str):
            raise InvalidArgument(f"'{name}' is required and must be a string.", details={"field": name})
    return data


class JwksView(ApiView):
    """Public keys for verifying the project's access tokens offline; no key needed."""

    @extend_schema(
        responses=responses({200: s.JWKS}, 404),
        summary="The project's token verification keys (JWKS)",
        operation_id="auth_jwks",
        auth=[],
    )
    def get(self, request: Request, project_id: str) -> Response:
        document = keys.jwks_document(project_id=project_id)
        # Verifiers cache this; a token with a new kid sends them back for a fresh copy.
        return Response(document, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})


class PublicAuthView(ProjectApiView):
    """Sign-in calls: an API key of the project, and no end-user token (an expired one
    sent along by habit must not stand in the way of getting a new one)."""

    def authorization_of(self, request: Request) -> str | None:
        return None


class SignedInView(ProjectApiView):
    """Calls of the signed-in user: an API key and ``Authorization: Bearer <access token>``."""


def _session(session: services.Session, status: int = 200) -> Response:
    return Response(selectors.session_json(session), status=status, headers={"Cache-Control": "no-store"})


class SignupView(PublicAuthView):
    @extend_schema(
        request=json_body(s.SIGNUP),
        responses=responses({201: s.SESSION}, 400, 403, 409, 415),
        summary="Create an account with email and password",
        operation_id="auth_signup",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"email", "password", "displayName"}, {"email", "password"})
        session = services.user_signup(
            ctx=self.ctx_of(request), email=data["email"], password=data["password"], display_name=data.get("displayName")
        )
        return _session(session, 201)


class LoginView(PublicAuthView):
    @extend_schema(
        request=json_body(s.CREDENTIALS),
        responses=responses({200: s.SESSION}, 400, 403, 415),
        summary="Sign in with email and password",
        operation_id="auth_login",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"email", "password"}, {"email", "password"})
        session = services.session_login(
            ctx=self.ctx_of(request), email=data["email"], password=data["password"], ip=client_ip(request.META)
        )
        return _session(session)


class AnonymousView(PublicAuthView):
    @extend_schema(
        request=None,
        responses=responses({201: s.SESSION}, 400, 403, 415),
        summary="Sign in as a new anonymous user",
        operation_id="auth_anonymous",
    )
    def post(self, request: Request, project_id: str) -> Response:
        fields_of(request, set())
        return _session(services.session_anonymous(ctx=self.ctx_of(request)), 201)


class RefreshView(PublicAuthView):
    @extend_schema(
        request=json_body(s.REFRESH),
        responses=responses({200: s.SESSION}, 400, 403, 415),
        summary="Trade a refresh token for new tokens",
        operation_id="auth_refresh",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"refreshToken"}, {"refreshToken"})
        return _session(services.session_refresh(ctx=self.ctx_of(request), refresh_token=data["refreshToken"]))


class LogoutView(PublicAuthView):
    @extend_schema(
        request=json_body(s.REFRESH),
        responses=responses({204: None}, 400, 415),
        summary="End the session of a refresh token",
        operation_id="auth_logout",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"refreshToken"}, {"refreshToken"})
        services.session_logout(ctx=self.ctx_of(request), refresh_token=data["refreshToken"])
        return Response(status=204)


class LinkView(SignedInView):
    @extend_schema(
        request=json_body(s.CREDENTIALS),
        responses=responses({200: s.SESSION}, 400, 403, 409, 412, 415),
        summary="Give an anonymous user an email and password (same uid)",
        operation_id="auth_link",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"email", "password"}, {"email", "password"})
        return _session(services.user_link(ctx=self.ctx_of(request), email=data["email"], password=data["password"]))


class MeView(SignedInView):
    @extend_schema(
        responses=responses({200: s.USER_ENVELOPE}, 403, 404),
        summary="The signed-in user",
        operation_id="auth_me_get",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"user": selectors.user_json(services.user_of(self.ctx_of(request)))})

    @extend_schema(
        request=json_body(s.ME_UPDATE),
        responses=responses({200: s.USER_ENVELOPE}, 400, 403, 404, 415),
        summary="Change the signed-in user's displayName or data",
        operation_id="auth_me_update",
    )
    def patch(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"displayName", "data"})
        changes = {key: data[name] for name, key in (("displayName", "display_name"), ("data", "data")) if name in data}
        user = services.user_update_self(ctx=self.ctx_of(request), **changes)
        return Response({"user": selectors.user_json(user)})

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Delete the signed-in user",
        operation_id="auth_me_delete",
    )
    def delete(self, request: Request, project_id: str) -> Response:
        services.user_delete_self(ctx=self.ctx_of(request))
        return Response(status=204)


class MePasswordView(SignedInView):
    @extend_schema(
        request=json_body(s.PASSWORD_CHANGE),
        responses=responses({200: s.SESSION}, 400, 403, 412, 415),
        summary="Change the password; other sessions end",
        operation_id="auth_me_password",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"currentPassword", "newPassword"}, {"currentPassword", "newPassword"})
        session = services.password_change(
            ctx=self.ctx_of(request),
            current_password=data["currentPassword"],
            new_password=data["newPassword"],
            ip=client_ip(request.META),
        )
        return _session(session)


# --- admin (secret key) -------------------------------------------------------------------

_ADMIN_FIELDS = {
    "disabled": "disabled",
    "claims": "claims",
    "email": "email",
    "emailVerified": "email_verified",
    "password": "password",
    "displayName": "display_name",
    "data": "data",
}


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidArgument("'limit' must be 1-1000.", details={"field": "limit"})
    return int(raw)


class UsersView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.USER_LIST}, 400, 403),
        parameters=s.USERS_LIST_PARAMETERS,
        summary="List end users (?search=, ?cursor=, ?limit=)",
        operation_id="users_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        search = request.query_params.get("search", "")
        if len(search) > 254:
            raise InvalidArgument("'search' is longer than 254 characters.", details={"field": "search"})
        page = selectors.users_list(
            project_id=project_id, search=search, cursor=request.query_params.get("cursor") or None, limit=_limit(request)
        )
        return Response({"users": [selectors.user_json(u) for u in page.users], "nextCursor": page.next_cursor})

    @extend_schema(
        request=json_body(s.USER_CREATE),
        responses=responses({201: s.USER_ENVELOPE}, 400, 403, 409, 415),
        summary="Create an end user",
        operation_id="users_create",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"uid", *_ADMIN_FIELDS})
        for name in ("disabled", "emailVerified"):
            if name in data and not isinstance(data[name], bool):
                raise InvalidArgument(f"'{name}' must be true or false.", details={"field": name})
        user = services.user_create(
            ctx=self.ctx_of(request),
            uid=data.get("uid"),
            email=data.get("email"),
            password=data.get("password"),
            display_name=data.get("displayName"),
            data=data.get("data"),
            claims=data.get("claims"),
            email_verified=data.get("emailVerified", False),
            disabled=data.get("disabled", False),
        )
        return Response({"user": selectors.user_json(user)}, status=201)


class UserView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.USER_ENVELOPE}, 403, 404),
        summary="Get an end user",
        operation_id="users_get",
    )
    def get(self, request: Request, project_id: str, uid: str) -> Response:
        return Response({"user": selectors.user_json(selectors.user_get(project_id=project_id, uid=uid))})

    @extend_schema(
        request=json_body(s.USER_UPDATE),
        responses=responses({200: s.USER_ENVELOPE}, 400, 403, 404, 409, 415),
        summary="Update an end user (disable, claims, email, password, ...)",
        operation_id="users_update",
    )
    def patch(self, request: Request, project_id: str, uid: str) -> Response:
        data = fields_of(request, set(_ADMIN_FIELDS))
        user = selectors.user_get(project_id=project_id, uid=uid)
        changes = {_ADMIN_FIELDS[name]: value for name, value in data.items()}
        user = services.user_admin_update(ctx=self.ctx_of(request), user=user, **changes)
        return Response({"user": selectors.user_json(user)})

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Delete an end user",
        operation_id="users_delete",
    )
    def delete(self, request: Request, project_id: str, uid: str) -> Response:
        services.user_delete(ctx=self.ctx_of(request), user=selectors.user_get(project_id=project_id, uid=uid))
        return Response(status=204)


class CustomTokenView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=json_body(s.CUSTOM_TOKEN_REQUEST),
        responses=responses({200: s.CUSTOM_TOKEN}, 400, 403, 415),
        summary="Mint a short-lived custom token for a uid and claims",
        operation_id="auth_custom_token",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"uid", "claims"})
        token = tokens.custom_token_mint(project_id, tokens.uid_check(data.get("uid")), data.get("claims"))
        return Response({"token": token, "expiresIn": tokens.CUSTOM_TOKEN_LIFETIME}, headers={"Cache-Control": "no-store"})


class CustomTokenExchangeView(PublicAuthView):
    @extend_schema(
        request=json_body(s.TOKEN),
        responses=responses({200: s.SESSION}, 400, 403, 415),
        summary="Sign in with a custom token",
        operation_id="auth_custom_token_exchange",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"token"}, {"token"})
        return _session(services.custom_token_exchange(ctx=self.ctx_of(request), token=data["token"]))


class AuthConfigView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.AUTH_CONFIG}, 403),
        summary="End-user auth settings",
        operation_id="auth_config_get",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response(config.auth_config_json(project_id))

    @extend_schema(
        request=json_body(s.AUTH_CONFIG_UPDATE),
        responses=responses({200: s.AUTH_CONFIG}, 400, 403, 415),
        summary="Change end-user auth settings",
        operation_id="auth_config_update",
    )
    def patch(self, request: Request, project_id: str) -> Response:
        names = {
            "accessTokenLifetime": "access_token_lifetime",
            "emailActionUrl": "email_action_url",
            "redirectUris": "redirect_uris",
            "emailTemplates": "email_templates",
        }
        data = fields_of(request, set(names))
        changes = {names[name]: value for name, value in data.items()}
        return Response(config.auth_config_update(ctx=self.ctx_of(request), **changes))


class SigningKeyRotateView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=None,
        responses=responses({200: s.SIGNING_KEY}, 403),
        summary="Sign with a new key; old tokens stay valid",
        operation_id="auth_keys_rotate",
    )
    def post(self, request: Request, project_id: str) -> Response:
        key = keys.signing_key_rotate(project_id=project_id)
        return Response({"kid": key.kid})


# --- email flows ----------------------------------------------------------------------------


class PasswordResetView(PublicAuthView):
    @extend_schema(
        request=json_body(s.EMAIL),
        responses=responses({202: s.ACCEPTED}, 400, 415),
        summary="Mail a password-reset code (always 202)",
        operation_id="auth_password_reset",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"email"}, {"email"})
        services.password_reset_request(ctx=self.ctx_of(request), email=data["email"])
        return Response({}, status=202)


class PasswordResetConfirmView(PublicAuthView):
    @extend_schema(
        request=json_body(s.PASSWORD_RESET_CONFIRM),
        responses=responses({200: s.USER_ENVELOPE}, 400, 403, 415),
        summary="Set a new password with a mailed code",
        operation_id="auth_password_reset_confirm",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"token", "newPassword"}, {"token", "newPassword"})
        user = services.password_reset_confirm(ctx=self.ctx_of(request), token=data["token"], new_password=data["newPassword"])
        return Response({"user": selectors.user_json(user)})


class VerifyEmailView(SignedInView):
    @extend_schema(
        request=None,
        responses=responses({202: s.ACCEPTED}, 400, 403, 412),
        summary="Mail an email-verification code to the signed-in user",
        operation_id="auth_verify_email",
    )
    def post(self, request: Request, project_id: str) -> Response:
        fields_of(request, set())
        services.email_verification_send(ctx=self.ctx_of(request))
        return Response({}, status=202)


class VerifyEmailConfirmView(PublicAuthView):
    @extend_schema(
        request=json_body(s.TOKEN),
        responses=responses({200: s.USER_ENVELOPE}, 400, 403, 415),
        summary="Confirm an email address with a mailed code",
        operation_id="auth_verify_email_confirm",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"token"}, {"token"})
        user = services.email_verification_confirm(ctx=self.ctx_of(request), token=data["token"])
        return Response({"user": selectors.user_json(user)})


# --- OAuth / OIDC ---------------------------------------------------------------------------


class OAuthAuthorizeView(ApiView):
    """A browser navigation (no key can be sent): the allow-listed redirect URI and the
    provider configured for the project stand in for one."""

    @extend_schema(
        responses={302: OpenApiResponse(description='To the provider'), **errors(400, 404)},
        parameters=[query('redirect_uri', 'An allow-listed app URL to return to.')],
        summary="Start an OAuth/OIDC sign-in (?redirect_uri=)",
        operation_id="auth_oauth_authorize",
        auth=[],
    )
    def get(self, request: Request, project_id: str, provider: str) -> HttpResponseRedirect:
        url = oauth.authorize_url(project_id=project_id, name=provider, redirect_uri=request.query_params.get("redirect_uri"))
        return HttpResponseRedirect(url)


class OAuthCallbackView(ApiView):
    @extend_schema(
        responses={302: OpenApiResponse(description='To the app, with tokens or an error'), **errors(400, 404)},
        summary="The provider returns here; redirects to the app with tokens",
        operation_id="auth_oauth_callback",
        auth=[],
    )
    def get(self, request: Request, project_id: str, provider: str) -> HttpResponseRedirect:
        return self._finish(request, project_id, provider, dict(request.query_params.items()))

    @extend_schema(exclude=True)
    def post(self, request: Request, project_id: str, provider: str) -> HttpResponseRedirect:
        """Apple answers with a form POST (response_mode=form_post)."""
        return self._finish(request, project_id, provider, dict(request._request.POST.items()))

    def _finish(self, request: Request, project_id: str, provider: str, params: dict[str, str]) -> HttpResponseRedirect:
        ctx = RequestContext(project_id=project_id, key_kind=None)
        location = oauth.callback(ctx=ctx, name=provider, params=params)
        response = HttpResponseRedirect(location)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response


class OAuthProvidersView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.OAUTH_PROVIDER_LIST}, 403),
        summary="List sign-in providers (never their secrets)",
        operation_id="auth_providers_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"providers": [oauth.provider_json(p) for p in oauth.providers_list(project_id=project_id)]})


class OAuthProviderView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=json_body(s.OAUTH_PROVIDER_SET),
        responses=responses({200: s.OAUTH_PROVIDER}, 400, 403, 415),
        summary="Configure a sign-in provider",
        operation_id="auth_provider_set",
    )
    def put(self, request: Request, project_id: str, provider: str) -> Response:
        configured = oauth.provider_set(ctx=self.ctx_of(request), name=provider, data=body_object(request))
        return Response(oauth.provider_json(configured))

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Remove a sign-in provider",
        operation_id="auth_provider_delete",
    )
    def delete(self, request: Request, project_id: str, provider: str) -> Response:
        oauth.provider_delete(project_id=project_id, name=provider)
        return Response(status=204)
