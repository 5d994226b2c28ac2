"""What the console keeps of its own: usage buckets, the audit log, invitations."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project, Role


class UsageBucket(models.Model):
    """One metric of one project over one time bucket.

    Counters (requests, errors, function runs, ...) are summed into ``source=""``; levels
    (documents, storage bytes, realtime connections) are written per ``source`` (the
    sampler, or one server process) and summed across sources when read. No foreign key:
    flushes batch many projects into one statement and must not fail on a project
    deleted meanwhile.
    """

    project_id = models.CharField(max_length=40)
    metric = models.CharField(max_length=40)
    bucket_start = models.DateTimeField()
    source = models.CharField(max_length=80, blank=True, default="")
    value = models.BigIntegerField(default=0)

    objects = ProjectScopedManager["UsageBucket"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "metric", "bucket_start", "source"], name="usage_bucket_unique")
        ]


class AuditEntry(models.Model):
    """A change made in the console: who did what to which thing, and when."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=60)
    target = models.CharField(max_length=300, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["AuditEntry"]()

    class Meta:
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time")]


class Invitation(models.Model):
    """An emailed invitation to join a project with a role; only the SHA-256 of its
    token is kept, and it is spent on acceptance."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["Invitation"]()
