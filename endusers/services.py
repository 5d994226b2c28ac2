"""Writes on end users and their sessions. Views, the console and functions call these.

Every function takes ``ctx`` first and touches only ``ctx.project_id``'s rows; a user or
token of another project is "not found" (or the same 401 as an unknown one).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone

from baas.api.context import RequestContext
from baas.api.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from endusers import config, passwords, throttle
from endusers.models import AuthConfig, CustomTokenUse, EmailToken, EndUser, RefreshToken
from endusers.tokens import CustomToken, access_token_mint, claims_check, custom_token_verify, uid_check
from projects.services import secret_hash

REFRESH_PREFIX = "rt_"
MAX_DATA_BYTES = 16 * 1024
LOGIN_FAILED = "Invalid email or password."
REFRESH_INVALID = "Invalid or expired refresh token."

# Sent after commit with (project_id, uid, kind): "created", "updated", "deleted".
end_user_changed = Signal()


@dataclass(frozen=True, slots=True)
class Session:
    user: EndUser
    access_token: str
    refresh_token: str
    expires_in: int


# --- input checks -------------------------------------------------------------------------


def email_check(email: Any, *, field: str = "email") -> tuple[str, str]:
    """(the address as given, trimmed; its case-folded form for uniqueness and lookup)."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidArgument(f"'{field}' is required.", details={"field": field})
    email = email.strip()
    if len(email) > 254:
        raise InvalidArgument(f"'{field}' is longer than 254 characters.", details={"field": field})
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidArgument(f"'{field}' is not a valid email address.", details={"field": field}) from None
    return email, email.casefold()


def display_name_check(value: Any, *, field: str = "displayName") -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200 or not value.isprintable():
        raise InvalidArgument(f"'{field}' must be at most 200 printable characters.", details={"field": field})
    return value


def data_check(value: Any, *, field: str = "data") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"'{field}' must be a JSON object.", details={"field": field})
    if len(orjson.dumps(value)) > MAX_DATA_BYTES:
        raise InvalidArgument(f"'{field}' must encode to at most {MAX_DATA_BYTES} bytes.", details={"field": field})
    return value


_OPS = {"created": "create", "updated": "update", "deleted": "delete"}


def _emit(project_id: str, user: EndUser, kind: str) -> None:
    """Inside the change's transaction: an event on the project's change log (the path
    functions and webhooks read), and the in-process signal after commit."""
    from endusers.selectors import user_json
    from projects.documents.events import system_event_append

    public = user_json(user)
    system_event_append(
        project_id=project_id,
        source="users",
        subject=user.uid,
        op=_OPS[kind],
        data=None if kind == "deleted" else public,
        before=public if kind == "deleted" else None,
    )
    uid = user.uid
    transaction.on_commit(
        lambda: end_user_changed.send(sender=EndUser, project_id=project_id, uid=uid, kind=kind), robust=True
    )


# --- sessions -----------------------------------------------------------------------------


def access_token_for(user: EndUser) -> tuple[str, int]:
    lifetime = config.access_token_lifetime(user.project_id)
    token = access_token_mint(
        user.project_id,
        user.uid,
        user.claims,
        email=user.email,
        email_verified=user.email_verified,
        anonymous=user.is_anonymous,
        lifetime=lifetime,
    )
    return token, lifetime


def _refresh_create(user: EndUser, *, family: str | None = None) -> str:
    plain = REFRESH_PREFIX + secrets.token_urlsafe(32)
    RefreshToken.objects.for_project(user.project_id).create(
        project_id=user.project_id,
        user=user,
        family=family or secrets.token_hex(16),
        token_hash=secret_hash(plain),
        expires_at=timezone.now() + timedelta(seconds=settings.BAAS_AUTH_REFRESH_TOKEN_LIFETIME),
    )
    return plain


def session_start(user: EndUser, *, family: str | None = None) -> Session:
    """A new access token and refresh token (a new family unless continuing one)."""
    refresh = _refresh_create(user, family=family)
    access, lifetime = access_token_for(user)
    return Session(user=user, access_token=access, refresh_token=refresh, expires_in=lifetime)


def sessions_revoke(*, project_id: str, user: EndUser) -> int:
    """Every refresh token of the user stops working at once."""
    return (
        RefreshToken.objects.for_project(project_id)
        .filter(user=user, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )


def _signed_in(user: EndUser) -> None:
    user.last_sign_in_at = timezone.now()
    EndUser.objects.for_project(user.project_id).filter(pk=user.pk).update(last_sign_in_at=user.last_sign_in_at)


def user_create(
    *,
    ctx: RequestContext,
    email: Any = None,
    password: Any = None,
    display_name: Any = None,
    uid: Any = None,
    data: Any = None,
    claims: Any = None,
    email_verified: bool = False,
    anonymous: bool = False,
    disabled: bool = False,
) -> EndUser:
    """Create a user; 409 when the uid or the email is taken in this project."""
    normalized = None
    if email is not None:
        email, normalized = email_check(email)
    user = EndUser(
        project_id=ctx.project_id,
        uid=uid_check(uid) if uid is not None else secrets.token_urlsafe(21),
        email=email,
        email_normalized=normalized,
        email_verified=bool(email_verified),
        display_name=display_name_check(display_name),
        data=data_check(data),
        claims=claims_check(claims),
        is_anonymous=anonymous,
        disabled=disabled,
    )
    if password is not None:
        user.password = passwords.password_hash(passwords.password_check_new(password, user=user))
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            _emit(ctx.project_id, user, "created")
    except IntegrityError:
        raise _conflict(ctx.project_id, uid=user.uid, normalized=normalized) from None
    return user


def _conflict(project_id: str, *, uid: str, normalized: str | None) -> AlreadyExists:
    if normalized is not None and EndUser.objects.for_project(project_id).filter(email_normalized=normalized).exists():
        return AlreadyExists("An account with this email already exists.", details={"field": "email"})
    return AlreadyExists("A user with this uid already exists.", details={"field": "uid"})


def user_signup(*, ctx: RequestContext, email: Any, password: Any, display_name: Any = None) -> Session:
    with transaction.atomic():
        user = user_create(ctx=ctx, email=email, password=password, display_name=display_name)
        _signed_in(user)
        return session_start(user)


def session_anonymous(*, ctx: RequestContext) -> Session:
    with transaction.atomic():
        user = user_create(ctx=ctx, anonymous=True)
        _signed_in(user)
        return session_start(user)


def session_login(*, ctx: RequestContext, email: Any, password: Any, ip: str = "unknown") -> Session:
    """Email and password. A wrong email and a wrong password are the same 401 after the
    same work (a dummy hash is checked when there is no user); a disabled account is 403,
    told only to someone who knows its password. Failures are limited per account and
    per IP (429 with Retry-After, checked before any hashing)."""
    normalized = email.strip().casefold() if isinstance(email, str) else ""
    throttle.login_guard(project_id=ctx.project_id, account=normalized, ip=ip)
    user = EndUser.objects.for_project(ctx.project_id).filter(email_normalized=normalized).first() if normalized else None
    if not passwords.password_matches(password, user.password if user is not None else ""):
        throttle.login_failed(project_id=ctx.project_id, account=normalized, ip=ip)
        raise Unauthenticated(LOGIN_FAILED)
    assert user is not None
    throttle.login_succeeded(project_id=ctx.project_id, account=normalized)
    if user.disabled:
        raise PermissionDenied("This account is disabled.")
    with transaction.atomic():
        _signed_in(user)
        return session_start(user)


def session_refresh(*, ctx: RequestContext, refresh_token: Any) -> Session:
    """Trade a refresh token for a new pair. Each token works once: a second use means
    it leaked, and every token of its family is revoked (the newest one included).

    Except within ``BAAS_AUTH_REFRESH_REUSE_GRACE_SECONDS`` of the first use: that is the
    same client (a retry whose answer was lost, two tabs sharing one stored session
    refreshing at once), and signing it out would lose the session for nothing. It gets
    a new token of the same family; the family dies together on any later reuse."""
    if not isinstance(refresh_token, str) or not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 200:
        raise Unauthenticated(REFRESH_INVALID)
    tokens = RefreshToken.objects.for_project(ctx.project_id)
    now = timezone.now()
    reused = False
    with transaction.atomic():
        row = tokens.select_related("user").filter(token_hash=secret_hash(refresh_token)).first()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthenticated(REFRESH_INVALID)
        # The conditional update is the claim: of two concurrent uses, one wins.
        claimed = tokens.filter(pk=row.pk, used_at__isnull=True, revoked_at__isnull=True).update(used_at=now) == 1
        if not claimed:
            row.refresh_from_db(fields=["used_at", "revoked_at"])  # as the use that won left it
            grace = timedelta(seconds=settings.BAAS_AUTH_REFRESH_REUSE_GRACE_SECONDS)
            if row.revoked_at is not None:
                raise Unauthenticated(REFRESH_INVALID)
        if claimed or (row.used_at is not None and now - row.used_at <= grace):
            user = row.user
            if user.disabled:
                sessions_revoke(project_id=ctx.project_id, user=user)
            else:
                return session_start(user, family=row.family)
        else:
            reused = True
            tokens.filter(family=row.family, revoked_at__isnull=True).update(revoked_at=now)
    if reused:
        raise Unauthenticated(REFRESH_INVALID, details={"reason": "reused"})
    raise PermissionDenied("This account is disabled.")


def session_logout(*, ctx: RequestContext, refresh_token: Any) -> None:
    """End the session the token belongs to; an unknown token is no error (nothing to end)."""
    if not isinstance(refresh_token, str) or not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 200:
        raise InvalidArgument("'refreshToken' is required.", details={"field": "refreshToken"})
    tokens = RefreshToken.objects.for_project(ctx.project_id)
    family = tokens.filter(token_hash=secret_hash(refresh_token)).values_list("family", flat=True).first()
    if family is not None:
        tokens.filter(family=family, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- the signed-in user -------------------------------------------------------------------


def user_of(ctx: RequestContext) -> EndUser:
    """The user behind ``ctx.auth``: 401 without a token or when the user is gone, 403
    when disabled."""
    if ctx.auth is None:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <access token>'.")
    user = EndUser.objects.for_project(ctx.project_id).filter(uid=ctx.auth["uid"]).first()
    if user is None:
        raise Unauthenticated("This user no longer exists.")
    if user.disabled:
        raise PermissionDenied("This account is disabled.")
    return user


def user_link(*, ctx: RequestContext, email: Any, password: Any) -> Session:
    """An anonymous user keeps its uid and data and gains an email and password."""
    user = user_of(ctx)
    if not user.is_anonymous:
        raise FailedPrecondition("Only an anonymous user can be linked to an email and password.")
    user.email, user.email_normalized = email_check(email)
    user.password = passwords.password_hash(passwords.password_check_new(password, user=user))
    user.is_anonymous = False
    user.email_verified = False
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "email_normalized", "password", "is_anonymous", "email_verified", "updated_at"])
            _emit(ctx.project_id, user, "updated")
            return session_start(user)
    except IntegrityError:
        raise AlreadyExists("An account with this email already exists.", details={"field": "email"}) from None


_UNSET: Any = object()


def user_update_self(*, ctx: RequestContext, display_name: Any = _UNSET, data: Any = _UNSET) -> EndUser:
    user = user_of(ctx)
    fields = ["updated_at"]
    if display_name is not _UNSET:
        user.display_name = display_name_check(display_name)
        fields.append("display_name")
    if data is not _UNSET:
        user.data = data_check(data)
        fields.append("data")
    with transaction.atomic():
        user.save(update_fields=fields)
        _emit(ctx.project_id, user, "updated")
    return user


def user_delete_self(*, ctx: RequestContext) -> None:
    user = user_of(ctx)
    user_delete(ctx=ctx, user=user)


def user_delete(*, ctx: RequestContext, user: EndUser) -> None:
    """Delete the user and every refresh token (cascade); access tokens already issued
    run out within their lifetime."""
    with transaction.atomic():
        EndUser.objects.for_project(ctx.project_id).filter(pk=user.pk).delete()
        _emit(ctx.project_id, user, "deleted")


def password_change(*, ctx: RequestContext, current_password: Any, new_password: Any, ip: str = "unknown") -> Session:
    """Needs the current password (failures limited like logins); every other session
    ends, and this one restarts."""
    user = user_of(ctx)
    if not user.has_password:
        raise FailedPrecondition("This account has no password; link one first.")
    account = f"uid:{user.uid}"
    throttle.login_guard(project_id=ctx.project_id, account=account, ip=ip)
    if not passwords.password_matches(current_password, user.password):
        throttle.login_failed(project_id=ctx.project_id, account=account, ip=ip)
        raise Unauthenticated("The current password is wrong.", details={"field": "currentPassword"})
    throttle.login_succeeded(project_id=ctx.project_id, account=account)
    user.password = passwords.password_hash(passwords.password_check_new(new_password, user=user, field="newPassword"))
    with transaction.atomic():
        user.save(update_fields=["password", "updated_at"])
        sessions_revoke(project_id=ctx.project_id, user=user)
        return session_start(user)


# --- admin (secret key) -------------------------------------------------------------------


def user_admin_update(
    *,
    ctx: RequestContext,
    user: EndUser,
    disabled: Any = _UNSET,
    claims: Any = _UNSET,
    email: Any = _UNSET,
    email_verified: Any = _UNSET,
    password: Any = _UNSET,
    display_name: Any = _UNSET,
    data: Any = _UNSET,
) -> EndUser:
    """Change any of the user's fields. Disabling, and setting a password, revoke every
    refresh token at once; access tokens already issued run out within their lifetime
    (new claims reach the user at the next refresh)."""
    fields = {"updated_at"}
    revoke = False
    if disabled is not _UNSET:
        if not isinstance(disabled, bool):
            raise InvalidArgument("'disabled' must be true or false.", details={"field": "disabled"})
        revoke = revoke or (disabled and not user.disabled)
        user.disabled = disabled
        fields.add("disabled")
    if claims is not _UNSET:
        user.claims = claims_check(claims)
        fields.add("claims")
    if email is not _UNSET:
        if email is None:
            user.email = user.email_normalized = None
        else:
            user.email, user.email_normalized = email_check(email)
        user.email_verified = False
        user.is_anonymous = False if email is not None else user.is_anonymous
        fields |= {"email", "email_normalized", "email_verified", "is_anonymous"}
    if email_verified is not _UNSET:
        if not isinstance(email_verified, bool):
            raise InvalidArgument("'emailVerified' must be true or false.", details={"field": "emailVerified"})
        user.email_verified = email_verified
        fields.add("email_verified")
    if password is not _UNSET:
        user.password = passwords.password_hash(passwords.password_check_new(password, user=user))
        user.is_anonymous = False
        revoke = True
        fields |= {"password", "is_anonymous"}
    if display_name is not _UNSET:
        user.display_name = display_name_check(display_name)
        fields.add("display_name")
    if data is not _UNSET:
        user.data = data_check(data)
        fields.add("data")
    try:
        with transaction.atomic():
            user.save(update_fields=sorted(fields))
            if revoke:
                sessions_revoke(project_id=ctx.project_id, user=user)
            _emit(ctx.project_id, user, "updated")
    except IntegrityError:
        raise AlreadyExists("An account with this email already exists.", details={"field": "email"}) from None
    return user


def _custom_token_spend(project_id: str, verified: CustomToken) -> None:
    """Record the token's use in its own commit, before the sign-in: a token is spent
    once presented, even when the sign-in then fails (a disabled user)."""
    try:
        with transaction.atomic():
            CustomTokenUse.objects.for_project(project_id).create(
                project_id=project_id,
                jti=verified.jti,
                expires_at=datetime.fromtimestamp(verified.exp, tz=dt_timezone.utc),
            )
    except IntegrityError:
        raise Unauthenticated("This custom token has already been used.", details={"reason": "reused"}) from None


def custom_token_exchange(*, ctx: RequestContext, token: Any) -> Session:
    """Sign in with a custom token from the project's backend: the uid is created on
    first use; claims in the token replace the user's custom claims."""
    verified = custom_token_verify(ctx.project_id, token)
    uid, claims = verified.uid, verified.claims
    _custom_token_spend(ctx.project_id, verified)
    with transaction.atomic():
        user = EndUser.objects.for_project(ctx.project_id).select_for_update().filter(uid=uid).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = user_create(ctx=ctx, uid=uid, claims=claims)
            except AlreadyExists:  # created concurrently by another exchange
                user = EndUser.objects.for_project(ctx.project_id).get(uid=uid)
        if user.disabled:
            raise PermissionDenied("This account is disabled.")
        if claims and claims != user.claims:
            user.claims = claims
            user.save(update_fields=["claims", "updated_at"])
        _signed_in(user)
        return session_start(user)


# --- email: password reset and verification ----------------------------------------------

_EMAIL_MODES = {"reset": "resetPassword", "verify": "verifyEmail"}


def _email_token_create(user: EndUser, purpose: str) -> str:
    lifetime = settings.BAAS_AUTH_RESET_TOKEN_LIFETIME if purpose == "reset" else settings.BAAS_AUTH_VERIFY_TOKEN_LIFETIME
    plain = secrets.token_urlsafe(32)
    EmailToken.objects.for_project(user.project_id).create(
        project_id=user.project_id,
        user=user,
        purpose=purpose,
        email=user.email or "",
        token_hash=secret_hash(plain),
        expires_at=timezone.now() + timedelta(seconds=lifetime),
    )
    return plain


def _email_send_later(user: EndUser, purpose: str, token: str) -> None:
    """Render now, send from a job after commit."""
    from urllib.parse import urlencode

    from endusers.tasks import email_send
    from projects.models import Project

    lifetime = settings.BAAS_AUTH_RESET_TOKEN_LIFETIME if purpose == "reset" else settings.BAAS_AUTH_VERIFY_TOKEN_LIFETIME
    action_url = AuthConfig.objects.for_project(user.project_id).values_list("email_action_url", flat=True).first() or ""
    link = ""
    if action_url:
        query = urlencode({"mode": _EMAIL_MODES[purpose], "token": token, "projectId": user.project_id})
        link = f"{action_url}{'&' if '?' in action_url else '?'}{query}"
    context = {
        "project_name": Project.objects.filter(pk=user.project_id).values_list("name", flat=True).first() or user.project_id,
        "display_name": user.display_name,
        "email": user.email,
        "token": token,
        "link": link,
        "minutes": lifetime // 60,
    }
    custom = (
        AuthConfig.objects.for_project(user.project_id).values_list("email_templates", flat=True).first() or {}
    ).get(purpose)
    if custom:
        subject = " ".join(config.email_template_render(custom["subject"], context).split())
        body = config.email_template_render(custom["body"], context)
    else:
        subject = " ".join(render_to_string(f"endusers/email/{purpose}_subject.txt", context).split())
        body = render_to_string(f"endusers/email/{purpose}_body.txt", context)
    to = user.email or ""
    transaction.on_commit(lambda: email_send.delay(to, subject, body), robust=True)


def _email_token_check(ctx: RequestContext, token: Any, purpose: str) -> EmailToken:
    """The live code, unconsumed (the caller consumes it with ``_email_token_consume``)."""
    if not isinstance(token, str) or not 1 <= len(token) <= 200:
        raise InvalidArgument("'token' is required.", details={"field": "token", "reason": "invalid"})
    row = (
        EmailToken.objects.for_project(ctx.project_id)
        .select_related("user")
        .filter(token_hash=secret_hash(token), purpose=purpose)
        .first()
    )
    if row is None or (row.user.email or "").casefold() != row.email.casefold():
        raise InvalidArgument("This code is not valid.", details={"field": "token", "reason": "invalid"})
    if row.used_at is not None:
        raise InvalidArgument("This code was already used.", details={"field": "token", "reason": "used"})
    if row.expires_at <= timezone.now():
        raise InvalidArgument("This code has expired.", details={"field": "token", "reason": "expired"})
    return row


def _email_token_consume(ctx: RequestContext, row: EmailToken) -> None:
    """Single use: of two concurrent confirmations, one wins."""
    claimed = EmailToken.objects.for_project(ctx.project_id).filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now())
    if claimed != 1:
        raise InvalidArgument("This code was already used.", details={"field": "token", "reason": "used"})


def password_reset_request(*, ctx: RequestContext, email: Any) -> None:
    """Mail a reset code if the account exists. The answer is the same either way."""
    normalized = email.strip().casefold() if isinstance(email, str) else ""
    user = EndUser.objects.for_project(ctx.project_id).filter(email_normalized=normalized).first() if normalized else None
    if user is None or user.disabled or not user.email:
        return
    with transaction.atomic():
        _email_send_later(user, "reset", _email_token_create(user, "reset"))


def password_reset_confirm(*, ctx: RequestContext, token: Any, new_password: Any) -> EndUser:
    """Set a new password with a mailed code; every session ends, and the address counts
    as verified (the code proved it)."""
    row = _email_token_check(ctx, token, "reset")
    user = row.user
    user.password = passwords.password_hash(passwords.password_check_new(new_password, user=user, field="newPassword"))
    user.email_verified = True
    user.is_anonymous = False
    with transaction.atomic():
        _email_token_consume(ctx, row)
        user.save(update_fields=["password", "email_verified", "is_anonymous", "updated_at"])
        EmailToken.objects.for_project(ctx.project_id).filter(user=user, purpose="reset", used_at__isnull=True).update(
            used_at=timezone.now()
        )
        sessions_revoke(project_id=ctx.project_id, user=user)
        _emit(ctx.project_id, user, "updated")
    return user


def email_verification_send(*, ctx: RequestContext) -> None:
    user = user_of(ctx)
    if not user.email:
        raise FailedPrecondition("This account has no email address.")
    if user.email_verified:
        return
    with transaction.atomic():
        _email_send_later(user, "verify", _email_token_create(user, "verify"))


def email_verification_confirm(*, ctx: RequestContext, token: Any) -> EndUser:
    row = _email_token_check(ctx, token, "verify")
    user = row.user
    with transaction.atomic():
        _email_token_consume(ctx, row)
        user.email_verified = True
        user.save(update_fields=["email_verified", "updated_at"])
        _emit(ctx.project_id, user, "updated")
    return user
