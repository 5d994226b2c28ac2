"""Deployed functions, their immutable versions, their triggers and schedules, and the
record of every execution."""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class Function(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="functions")
    name = models.CharField(max_length=63)
    active_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["Function"]()

    class Meta:
        db_table = "baas_function"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="function_unique")]


class FunctionVersion(models.Model):
    """One deploy, never changed afterwards. Env vars and secrets are sealed at rest."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    files = models.JSONField()  # relative path -> source text
    entrypoint = models.CharField(max_length=200)
    triggers = models.JSONField()
    timeout_seconds = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    retry = models.JSONField(default=dict)  # {"enabled": bool, "maxAttempts": int}
    env_sealed = models.TextField(blank=True, default="")
    env_names = models.JSONField(default=list)
    secret_names = models.JSONField(default=list)
    source_sha256 = models.CharField(max_length=64)
    source_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectScopedManager["FunctionVersion"]()

    class Meta:
        db_table = "baas_function_version"
        constraints = [models.UniqueConstraint(fields=["function", "version"], name="function_version_unique")]


class FunctionTrigger(models.Model):
    """An event trigger of a function's active version, denormalised so the event feed
    can match events without loading versions."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="event_triggers")
    source = models.CharField(max_length=16)  # document | auth | storage
    collection = models.CharField(max_length=64, blank=True, default="")  # collection or bucket
    event_types = models.JSONField()  # ["document.created", ...]

    objects = ProjectScopedManager["FunctionTrigger"]()

    class Meta:
        db_table = "baas_function_trigger"
        indexes = [models.Index(fields=["project", "source"], name="function_trigger_project")]


class FunctionSchedule(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="schedules")
    cron = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64)
    next_run_at = models.DateTimeField(db_index=True)

    objects = ProjectScopedManager["FunctionSchedule"]()

    class Meta:
        db_table = "baas_function_schedule"


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"


FINAL_STATUSES = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT)


class Execution(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    function_name = models.CharField(max_length=63)
    version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16)  # http | document | auth | storage | schedule | replay
    # The event's id for event triggers (unique per function: one execution per event),
    # the schedule tick for schedules; empty for calls.
    event_id = models.CharField(max_length=200, blank=True, default="")
    event = models.JSONField()
    # Executions of one function on one document run in seq order.
    ordering_key = models.CharField(max_length=300, blank=True, default="")
    seq = models.BigIntegerField(null=True)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED)
    attempt = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    dead_letter = models.BooleanField(default=False)
    replay_of = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()
    # When a queued execution may run (retries wait here); when a running one's lease ends
    # (past it, a sweep requeues it: its worker died).
    not_before = models.DateTimeField()
    lease_until = models.DateTimeField(null=True)
    # A call is pointless once its caller has given up.
    deadline = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.FloatField(null=True)
    memory_peak_kb = models.PositiveIntegerField(null=True)
    stdout = models.TextField(blank=True, default="")
    stderr = models.TextField(blank=True, default="")
    result = models.JSONField(null=True)
    error = models.JSONField(null=True)

    objects = ProjectScopedManager["Execution"]()

    class Meta:
        db_table = "baas_function_execution"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "function_name", "event_id"],
                condition=~models.Q(event_id=""),
                name="execution_event_once",
            )
        ]
        indexes = [
            models.Index(fields=["project", "function_name", "created_at"], name="execution_list"),
            models.Index(fields=["status", "not_before"], name="execution_due"),
            models.Index(fields=["project", "function_name", "ordering_key", "seq"], name="execution_order"),
        ]
