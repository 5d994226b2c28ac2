"""End-user auth state: per-project signing keys (and, beside them, users and sessions)."""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class SigningKey(models.Model):
    """A project's token signing key pair.

    One key per project signs (``retired_at`` null); retired keys stay published in the
    JWKS until every token they signed has expired. The private key is sealed with the
    server's secret (``endusers.crypto``) and never leaves the process that signs.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16, default="ES256")
    public_key_pem = models.TextField()
    private_key_sealed = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["SigningKey"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(retired_at__isnull=True), name="signing_key_one_active"
            )
        ]

    def __repr__(self) -> str:
        return f"<SigningKey {self.kid} of {self.project_id}>"


class EndUser(models.Model):
    """A user of one project's app (never a console user).

    ``email_normalized`` is the case-folded address and unique per project; ``password``
    is a Django password hash, empty when the user signs in another way (anonymous,
    OAuth, custom tokens).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="end_users")
    uid = models.CharField(max_length=128)
    email = models.CharField(max_length=254, null=True, blank=True)
    email_normalized = models.CharField(max_length=254, null=True, blank=True)
    email_verified = models.BooleanField(default=False)
    password = models.CharField(max_length=256, blank=True, default="")
    display_name = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    claims = models.JSONField(default=dict, blank=True)
    is_anonymous = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["EndUser"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "uid"], name="end_user_uid_unique"),
            models.UniqueConstraint(
                fields=["project", "email_normalized"],
                condition=models.Q(email_normalized__isnull=False),
                name="end_user_email_unique",
            ),
        ]

    def __repr__(self) -> str:
        return f"<EndUser {self.uid} of {self.project_id}>"

    @property
    def has_password(self) -> bool:
        return bool(self.password)


class RefreshToken(models.Model):
    """One link in a session's chain of refresh tokens; only the SHA-256 is kept.

    Every use marks the token used and issues the next one in the same ``family``;
    presenting a used token again means it leaked, and the whole family is revoked.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.CharField(max_length=32, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["RefreshToken"]()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="refresh_token_expiry")]

    def __repr__(self) -> str:
        return f"<RefreshToken {self.pk} of {self.user_id}>"


class AuthConfig(models.Model):
    """A project's end-user auth settings; a project without a row uses the defaults."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="auth_config")
    access_token_lifetime = models.PositiveIntegerField(null=True, blank=True)  # seconds; null = deployment default
    # The app page that completes email actions: mails link to it with ?mode=…&token=….
    email_action_url = models.CharField(max_length=500, blank=True, default="")
    # App URIs an OAuth sign-in may return to (exact match): no open redirect.
    redirect_uris = models.JSONField(default=list, blank=True)
    # {"verify" | "reset": {"subject", "body"}}: the project's own wording of the mails;
    # a purpose left out uses the built-in templates.
    email_templates = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["AuthConfig"]()


class EmailToken(models.Model):
    """A single-use code mailed to a user (password reset, email verification); only
    the SHA-256 is kept. ``email`` is the address it was sent to: a code stops counting
    when the user's address has changed since."""

    PURPOSES = (("reset", "reset"), ("verify", "verify"))

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="email_tokens")
    purpose = models.CharField(max_length=16, choices=PURPOSES)
    email = models.CharField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["EmailToken"]()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="email_token_expiry")]

    def __repr__(self) -> str:
        return f"<EmailToken {self.purpose} {self.pk} of {self.user_id}>"


class OAuthProvider(models.Model):
    """A sign-in provider of one project: Google, GitHub, Apple or any OIDC issuer.
    The client secret is sealed like signing keys and never returned."""

    KINDS = (("google", "google"), ("github", "github"), ("apple", "apple"), ("oidc", "oidc"))

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=KINDS)
    client_id = models.CharField(max_length=500)
    client_secret_sealed = models.TextField(blank=True, default="")
    issuer = models.CharField(max_length=500, blank=True, default="")
    scopes = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["OAuthProvider"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="oauth_provider_unique")]


class OAuthState(models.Model):
    """One sign-in in flight: the ``state`` (hashed), the PKCE verifier and nonce
    (sealed), and where to send the user back."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=40)
    state_hash = models.CharField(max_length=64, unique=True)
    secrets_sealed = models.TextField()
    redirect_uri = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["OAuthState"]()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="oauth_state_expiry")]


class EndUserIdentity(models.Model):
    """A provider account signed in as a user: (provider, subject) is the key."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="identities")
    provider = models.CharField(max_length=40)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["EndUserIdentity"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "provider", "subject"], name="end_user_identity_unique")
        ]


class CustomTokenUse(models.Model):
    """A custom token already exchanged, kept until it expires so a replay is refused.
    ``jti`` is the token's id (the SHA-256 of its signed part for tokens minted without one)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    objects = ProjectScopedManager["CustomTokenUse"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "jti"], name="custom_token_use_unique")]
        indexes = [models.Index(fields=["expires_at"], name="custom_token_use_expiry")]
