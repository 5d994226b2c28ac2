"""Collections, documents and the per-project change log.

The hot paths (document reads, writes and queries) use hand-written SQL in
``store.py``; these models own the schema, migrations and the admin.
"""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class Collection(models.Model):
    """A collection and its optional config: JSON Schema, rules and declared indexes."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=64)
    schema = models.JSONField(null=True, blank=True)
    rules = models.JSONField(default=dict, blank=True)
    indexes = models.JSONField(default=list, blank=True)
    # Names of the database indexes built for ``indexes`` (PostgreSQL), to drop stale ones.
    built_indexes = models.JSONField(default=dict, blank=True)
    config_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["Collection"]()

    class Meta:
        db_table = "baas_collection"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="collection_unique")]


class Document(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    collection = models.CharField(max_length=64)
    doc_id = models.CharField(max_length=128)
    data = models.JSONField()
    version = models.PositiveBigIntegerField(default=1)
    create_time = models.DateTimeField()
    update_time = models.DateTimeField()

    objects = ProjectScopedManager["Document"]()

    class Meta:
        db_table = "baas_document"
        constraints = [
            models.UniqueConstraint(fields=["project", "collection", "doc_id"], name="document_unique")
        ]


class Change(models.Model):
    """One committed write, with the data after (and before) it. Written once, never
    updated: numbering lives in ``ChangeSeq`` (see changelog.py)."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    collection = models.CharField(max_length=64)
    doc_id = models.CharField(max_length=128)
    op = models.CharField(max_length=8)  # create | update | delete
    version = models.PositiveBigIntegerField()
    data = models.JSONField(null=True)
    before = models.JSONField(null=True)
    time = models.DateTimeField()

    objects = ProjectScopedManager["Change"]()

    class Meta:
        db_table = "baas_change"
        indexes = [models.Index(fields=["time"], name="change_time")]


class ChangePending(models.Model):
    """The outbox of committed, not yet numbered changes: a tiny row per write."""

    change = models.OneToOneField(Change, on_delete=models.CASCADE, primary_key=True, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")

    class Meta:
        db_table = "baas_change_pending"


class ChangeSeq(models.Model):
    """A change's place in its project's log: dense ``seq`` in commit order. Readers
    range-scan (project_id, seq)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    seq = models.BigIntegerField()
    change = models.OneToOneField(Change, on_delete=models.CASCADE, related_name="+")

    objects = ProjectScopedManager["ChangeSeq"]()

    class Meta:
        db_table = "baas_change_seq"
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="change_seq_project_seq")]


class ProjectSequence(models.Model):
    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        db_table = "baas_project_sequence"


class FeedCursor(models.Model):
    """How far one event-feed consumer (functions, webhooks) has read a project's log."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    consumer = models.CharField(max_length=32)
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        db_table = "baas_feed_cursor"
        constraints = [models.UniqueConstraint(fields=["project", "consumer"], name="feed_cursor_unique")]
