"""Push notifications: a project's FCM credential, its end users' devices and topic
subscriptions, and every message with one result row per token it went to.

The service account is sealed (endusers/crypto.py) and never read back by the API; its
``version`` grows on every upload, so each worker rebuilds its firebase-admin App.
"""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class Platform(models.TextChoices):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class FcmCredential(models.Model):
    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    sealed = models.TextField()
    # Facts safe to show: the FCM project and the service account's address.
    fcm_project_id = models.CharField(max_length=128)
    client_email = models.CharField(max_length=320)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["FcmCredential"]()


class Device(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    token = models.CharField(max_length=1024)
    uid = models.CharField(max_length=128)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    app_version = models.CharField(max_length=64, blank=True, default="")
    # False once FCM said the token is unregistered or invalid; registering it again revives it.
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["Device"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "token"], name="push_device_unique")]
        indexes = [models.Index(fields=["project", "uid"], name="push_device_uid")]


class TopicSubscription(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="subscriptions")
    topic = models.CharField(max_length=900)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["TopicSubscription"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "topic"], name="push_topic_unique")]
        indexes = [models.Index(fields=["project", "topic"], name="push_topic_project")]


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    DRY_RUN = "dry_run"


class PushMessage(models.Model):
    id = models.CharField(max_length=40, primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    target = models.JSONField()
    # The FCM message without its recipient: notification, data, android, apns, webpush.
    content = models.JSONField()
    send_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=MessageStatus.choices)
    recipients = models.IntegerField(default=0)
    batches = models.IntegerField(default=0)
    success_count = models.IntegerField(default=0)
    failure_count = models.IntegerField(default=0)
    invalid_token_count = models.IntegerField(default=0)
    origin = models.CharField(max_length=16, default="rest")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectScopedManager["PushMessage"]()

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at"], name="push_message_project"),
            models.Index(fields=["status", "send_at"], name="push_message_due"),
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one task run; never claimed twice
    SENT = "sent"
    FAILED = "failed"
    INVALID_TOKEN = "invalid_token"
    DRY_RUN = "dry_run"


class PushDelivery(models.Model):
    """One token's result for one message; unique, so a token is sent a message once."""

    message = models.ForeignKey(PushMessage, on_delete=models.CASCADE, related_name="deliveries")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    token = models.CharField(max_length=1024)
    batch = models.IntegerField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    claim = models.CharField(max_length=32, blank=True, default="")
    attempts = models.IntegerField(default=0)
    fcm_message_id = models.CharField(max_length=255, blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["PushDelivery"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "token"], name="push_delivery_unique")]
        indexes = [models.Index(fields=["message", "batch", "status"], name="push_delivery_batch")]
