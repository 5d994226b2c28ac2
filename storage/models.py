"""Buckets, the metadata row of every stored object, and per-project usage.

Object bytes live in a backend (local files or S3) under a key made of trusted parts
only (project id, bucket id, a random id): a user's object path never becomes a file
name or an S3 key, so no path can reach outside its bucket.
"""

from __future__ import annotations

from django.db import models

from baas.scoping import ProjectScopedManager
from projects.models import Project


class Bucket(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=63)
    max_file_size = models.BigIntegerField()
    # Patterns such as "image/*"; empty means any type.
    allowed_content_types = models.JSONField(default=list, blank=True)
    rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["Bucket"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="storage_bucket_unique")]


class StoredObject(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, db_index=False, related_name="+")
    bucket = models.ForeignKey(Bucket, on_delete=models.CASCADE, db_index=False, related_name="+")
    path = models.CharField(max_length=1024)
    # Where the bytes are in the backend; a new key on every upload, so an overwrite
    # never exposes a half-written file and a failed one leaves the old bytes in place.
    blob_key = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    owner = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = ProjectScopedManager["StoredObject"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "path"], name="storage_object_unique")]


class StorageUsage(models.Model):
    """Bytes and objects stored per project, kept in step with every upload and delete."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="+")
    bytes = models.BigIntegerField(default=0)
    objects_count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectScopedManager["StorageUsage"]()


class DirectUpload(models.Model):
    """A presigned direct upload handed out and not yet finalized.

    The bytes of an upload that is never finalized have no object row: this row is what
    lets the sweep (storage/sweep.py) find and delete them once finalize can no longer
    take them. No foreign key: the row must outlive a deleted project or bucket."""

    key = models.CharField(max_length=255, primary_key=True)
    project_id = models.CharField(max_length=64)
    finalize_by = models.DateTimeField(db_index=True)
