"""Outgoing webhooks: a project's endpoints, one delivery per endpoint and event, and
every attempt of it.

The signing secret is sealed (endusers/crypto.py): the worker must read it back to
sign, and the API shows it only when it is made.
"""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class WebhookEndpoint(models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=200, blank=True, default="")
    # Patterns: "*", "document.*", "user.created", ...; collections: an optional filter on
    # the event's collection (document collection, bucket, function name).
    events = models.JSONField(default=list)
    collections = models.JSONField(default=list, blank=True)
    sealed_secret = models.TextField()
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["WebhookEndpoint"]()

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="webhook_endpoint_project")]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.IntegerField(default=0)
    # Attempts since the delivery was (re)queued: the retry limit counts these.
    round_attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_duration_ms = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["WebhookDelivery"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique")]
        indexes = [
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_endpoint"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]


class WebhookAttempt(models.Model):
    """The delivery log: one row per HTTP attempt."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    number = models.IntegerField()
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.IntegerField()
    succeeded = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["WebhookAttempt"]()

    class Meta:
        indexes = [models.Index(fields=["delivery", "number"], name="webhook_attempt_delivery")]
