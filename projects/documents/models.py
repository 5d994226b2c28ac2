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
    """One committed write. ``seq`` is given by the sequencer after commit (changelog.py):
    dense per project and in commit order, without serialising writers."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    seq = models.BigIntegerField(null=True)
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
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="change_project_seq")]
        indexes = [
            models.Index(fields=["id"], name="change_pending", condition=models.Q(seq__isnull=True)),
            models.Index(fields=["time"], name="change_time"),
        ]


class ProjectSequence(models.Model):
    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        db_table = "baas_project_sequence"
