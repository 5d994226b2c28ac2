"""Project-owned rows cannot be queried without naming the project."""

from __future__ import annotations

from typing import Any

import pytest

from baas.scoping import UnscopedQueryError
from projects.models import ApiKey, Membership


def test_unscoped_queries_raise(project: Any) -> None:
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.all()
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.filter(kind="secret")
    with pytest.raises(UnscopedQueryError):
        Membership.objects.count()
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.for_project(None)


def test_scoped_queries_see_only_their_project(project: Any, other_project: Any) -> None:
    alpha = set(ApiKey.objects.for_project(project.project).values_list("project_id", flat=True))
    beta = set(ApiKey.objects.for_project("beta-app").values_list("project_id", flat=True))
    assert alpha == {"alpha-app"} and beta == {"beta-app"}
    assert ApiKey.objects.for_project(project.project).count() == 2
    # The related manager of a project is scoped by construction.
    assert {k.project_id for k in project.project.api_keys.all()} == {"alpha-app"}
    assert ApiKey.objects.unscoped().count() == 4
