"""Writes on tenancy: projects, members, API keys, personal access tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from baas.api.errors import AlreadyExists, InvalidArgument, NotFound
from projects import caching
from projects.models import (
    KEY_PREFIXES,
    PROJECT_ID_PATTERN,
    ApiKey,
    KeyKind,
    Membership,
    PersonalAccessToken,
    Project,
    Role,
)

_PROJECT_ID_RE = re.compile(PROJECT_ID_PATTERN)
PAT_PREFIX = "pat_"


def secret_hash(plain: str) -> str:
    """Keys are 256-bit random strings: a fast hash is enough and keeps lookups cheap."""
    return hashlib.sha256(plain.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedProject:
    project: Project
    publishable_key: str
    secret_key: str


def project_create(*, project_id: str, name: str = "", owner: AbstractBaseUser | None = None) -> CreatedProject:
    """Create a project with one publishable and one secret key, and its owner."""
    if not isinstance(project_id, str) or not _PROJECT_ID_RE.match(project_id):
        raise InvalidArgument(
            "Project id must match ^[a-z][a-z0-9-]{2,39}$.", details={"field": "projectId"}
        )
    try:
        with transaction.atomic():
            project = Project(id=project_id, name=name or project_id)
            # force_insert: a primary key we choose must never overwrite an existing row.
            project.save(force_insert=True)
            if owner is not None:
                Membership(project=project, user=owner, role=Role.OWNER).save()
            _, publishable = api_key_create(project=project, kind=KeyKind.PUBLISHABLE, name="default")
            _, secret = api_key_create(project=project, kind=KeyKind.SECRET, name="default")
    except IntegrityError:
        raise AlreadyExists(f"Project {project_id!r} already exists.") from None
    return CreatedProject(project=project, publishable_key=publishable, secret_key=secret)


def api_key_create(*, project: Project, kind: str, name: str = "") -> tuple[ApiKey, str]:
    """Returns the row and the plain key, which is never retrievable again."""
    if kind not in KEY_PREFIXES:
        raise InvalidArgument("kind must be 'publishable' or 'secret'.", details={"field": "kind"})
    plain = KEY_PREFIXES[KeyKind(kind)] + secrets.token_urlsafe(32)
    key = ApiKey(
        project=project,
        kind=kind,
        name=name[:100],
        display_prefix=plain[:10],
        key_hash=secret_hash(plain),
    )
    key.save()
    return key, plain


def _access_key(*, project: Project, key_id: int) -> ApiKey:
    try:
        return ApiKey.objects.for_project(project).get(pk=key_id)
    except (ApiKey.DoesNotExist, ValueError, TypeError):
        raise NotFound("API key not found.") from None


def api_key_revoke(*, project: Project, key_id: int) -> ApiKey:
    key = _access_key(project=project, key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    # Forget now (this transaction's requests) and again after commit (a request that
    # re-read the old row in between must not keep it cached).
    caching.api_key_forget(key.key_hash)
    transaction.on_commit(lambda: caching.api_key_forget(key.key_hash))
    return key


def api_key_rotate(*, project: Project, key_id: int) -> tuple[ApiKey, str]:
    """A new key of the same kind and name; the old one stops working at once."""
    with transaction.atomic():
        old = _access_key(project=project, key_id=key_id)
        if old.revoked_at is not None:
            raise InvalidArgument("A revoked key cannot be rotated.")
        new, plain = api_key_create(project=project, kind=old.kind, name=old.name)
        api_key_revoke(project=project, key_id=old.pk)
    return new, plain


def api_key_touch(*, key_id: int, used_at: datetime) -> None:
    """Record last use; runs in a background job so requests never write for it."""
    ApiKey.objects.unscoped().filter(pk=key_id).exclude(last_used_at__gte=used_at).update(last_used_at=used_at)


def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidArgument(f"role must be one of {', '.join(Role.values)}.", details={"field": "role"})
    membership, _ = Membership.objects.for_project(project).update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    return membership


def personal_access_token_create(
    *, user: AbstractBaseUser, name: str = "", expires_at: datetime | None = None
) -> tuple[PersonalAccessToken, str]:
    plain = PAT_PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken(
        user=user,
        name=name[:100],
        display_prefix=plain[:11],
        token_hash=secret_hash(plain),
        expires_at=expires_at,
    )
    token.save()
    return token, plain


def personal_access_token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    token = PersonalAccessToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("Access token not found.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    caching.access_token_forget(token.token_hash)
    transaction.on_commit(lambda: caching.access_token_forget(token.token_hash))
