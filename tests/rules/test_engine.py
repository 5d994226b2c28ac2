"""The shared rule check that documents, storage and realtime call."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from baas.api.errors import InvalidArgument
from projects.rules.engine import RuleSetCache, rule_allows, rule_compile


def test_storage_style_variables() -> None:
    rule = "auth != null && request.size < 1000 && request.contentType.startsWith('image/') && request.path.startsWith(auth.uid + '/')"
    auth = {"uid": "u1", "token": {}}
    upload = {"size": 10, "contentType": "image/png", "path": "u1/cat.png"}
    assert rule_allows(rule, project_id="p", auth=auth, resource=None, request=upload)
    assert not rule_allows(rule, project_id="p", auth=auth, resource=None, request={**upload, "size": 5000})
    assert not rule_allows(rule, project_id="p", auth=auth, resource=None, request={**upload, "path": "u2/cat.png"})
    assert not rule_allows(rule, project_id="p", auth=None, resource=None, request=upload)


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        (None, False),  # a missing rule denies
        ("", False),
        ("1", False),  # not a bool
        ("'true'", False),
        ("resource.data.missing == 1", False),  # an error denies
        ("resource.data.missing == 1 || true", True),  # CEL's commutative or absorbs it
        ("project.id == 'p'", True),
        ("request.time > timestamp('2020-01-01T00:00:00Z')", True),
        ("request.time.getFullYear() == 1999", False),
        ("resource.id.matches('^d[0-9]+$')", True),
        ("resource.data.tags.all(t, t.size() < 3)", True),
    ],
)
def test_decisions(rule: str | None, allowed: bool) -> None:
    resource = {"id": "d1", "data": {"tags": ["a", "bb"]}}
    assert rule_allows(rule, project_id="p", auth=None, resource=resource) is allowed


def test_time_is_the_given_request_time() -> None:
    rule = "request.time < timestamp('2030-01-01T00:00:00Z')"
    past = {"time": datetime(2029, 1, 1, tzinfo=timezone.utc)}
    future = {"time": datetime(2031, 1, 1, tzinfo=timezone.utc)}
    assert rule_allows(rule, project_id="p", auth=None, resource=None, request=past)
    assert not rule_allows(rule, project_id="p", auth=None, resource=None, request=future)


def test_rule_sets_are_cached_per_config_version() -> None:
    cache = RuleSetCache(size=2)
    first = cache.get(("p", "c", 1), {"read": "true"})
    assert cache.get(("p", "c", 1), {"read": "false"}) is first  # same version: no recompile
    second = cache.get(("p", "c", 2), {"read": "false"})
    assert second["read"] is not None and second["read"].source == "false"
    cache.get(("p", "d", 1), {"read": "true"})
    assert cache.get(("p", "c", 1), {"read": "auth != null"})["read"].source == "auth != null"  # evicted, rebuilt


def test_overlong_and_non_string_rules_are_refused() -> None:
    for bad in (None, 5, "   ", "true || " * 2000):
        with pytest.raises(InvalidArgument):
            rule_compile(bad)
