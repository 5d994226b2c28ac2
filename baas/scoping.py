"""Fail-closed tenant scoping for project-owned models.

``Model.objects.filter(...)`` on a project-owned model raises: the only ways in are
``Model.objects.for_project(project)`` and the deliberately loud ``unscoped()`` escape,
so a query that could return another project's rows cannot be written by accident.
Related managers reached from a project instance (``project.api_keys``) are already
filtered by Django and pass through.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class UnscopedQueryError(RuntimeError):
    pass


class ProjectScopedManager(models.Manager, Generic[M]):  # type: ignore[type-arg]
    def get_queryset(self) -> models.QuerySet[M]:
        # Related managers carry the filter of the instance they hang from.
        if getattr(self, "core_filters", None) or getattr(self, "instance", None) is not None:
            return super().get_queryset()
        raise UnscopedQueryError(
            f"{self.model.__name__} is project-scoped: use .for_project(project) or .unscoped()"
        )

    def for_project(self, project: Any) -> models.QuerySet[M]:
        project_id = getattr(project, "pk", project)
        if not project_id:
            raise UnscopedQueryError("for_project() needs a project")
        return super().get_queryset().filter(project_id=project_id)

    def unscoped(self) -> models.QuerySet[M]:
        """Every project's rows: operators' tools and cross-project jobs only."""
        return super().get_queryset()
