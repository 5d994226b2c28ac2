"""Tenancy: projects, their members, API keys, and console users' access tokens."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from baas.scoping import ProjectScopedManager

PROJECT_ID_PATTERN = r"^[a-z][a-z0-9-]{2,39}$"


class Project(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=40,
        validators=[RegexValidator(PROJECT_ID_PATTERN, "3-40 characters: a-z first, then a-z, 0-9 or '-'.")],
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped on every change that cached lookups depend on (keys, config).
    config_version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return self.id


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


# What each role may do, from most to least powerful.
ROLE_RANK = {Role.OWNER: 4, Role.ADMIN: 3, Role.DEVELOPER: 2, Role.VIEWER: 1}


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["Membership"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]


class KeyKind(models.TextChoices):
    PUBLISHABLE = "publishable"
    SECRET = "secret"


KEY_PREFIXES = {KeyKind.PUBLISHABLE: "pk_", KeyKind.SECRET: "sk_"}


class ApiKey(models.Model):
    """A project key. Only the SHA-256 of the key is kept; the key is shown once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=16, choices=KeyKind.choices)
    name = models.CharField(max_length=100, blank=True, default="")
    display_prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["ApiKey"]()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PersonalAccessToken(models.Model):
    """A console user's token for the CLI and ``POST /v1/projects``; hashed like keys."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    display_prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
