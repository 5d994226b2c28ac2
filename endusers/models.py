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
