"""Usage metrics: counted in memory, flushed in batches, charted per project; the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from projects import usage

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 12, 30, 15, tzinfo=timezone.utc)


def _rows(project_id: str = "alpha-app") -> list[tuple[str, datetime, str, int]]:
    from dashboard.models import UsageBucket

    return list(
        UsageBucket.objects.for_project(project_id).order_by("metric", "bucket_start", "source").values_list("metric", "bucket_start", "source", "value")
    )


def test_counts_wait_in_memory_until_a_flush_adds_them_up(project: Any) -> None:
    usage.usage_record("alpha-app", "requests")
    usage.usage_record("alpha-app", "requests", 2)
    usage.usage_record("alpha-app", "function_runs")
    assert _rows() == []
    assert usage.usage_flush(NOW) == 2
    minute = datetime(2026, 12, 7, 12, 30, tzinfo=timezone.utc)
    assert _rows() == [("function_runs", minute, "", 1), ("requests", minute, "", 3)]
    usage.usage_request("alpha-app", 200)
    usage.usage_request("alpha-app", 404)
    usage.usage_request("alpha-app", 500)
    assert usage.usage_flush(NOW + timedelta(seconds=20)) == 2
    assert _rows() == [("errors", minute, "", 2), ("function_runs", minute, "", 1), ("requests", minute, "", 6)]
    assert usage.usage_flush(NOW) == 0


def test_api_requests_are_counted_for_their_own_project_only(project: Any, other_project: Any, secret_api: Any) -> None:
    assert secret_api.get("/v1/projects/alpha-app").status == 200
    assert secret_api.get("/v1/projects/alpha-app/collections/posts/documents/nope").status == 404
    assert secret_api.get("/v1/projects/beta-app").status == 401
    usage.usage_flush(NOW)
    minute = datetime(2026, 12, 7, 12, 30, tzinfo=timezone.utc)
    assert _rows() == [("errors", minute, "", 1), ("requests", minute, "", 2)]
    assert _rows("beta-app") == [("errors", minute, "", 1), ("requests", minute, "", 1)]


def test_levels_are_sampled_and_realtime_connections_kept_per_process(seeded: Any) -> None:
    usage.usage_sample(NOW)
    usage.usage_gauge_add("alpha-app", "realtime_connections", 2)
    usage.usage_gauge_add("alpha-app", "realtime_connections", -1)
    usage.usage_flush(NOW)
    minute = datetime(2026, 12, 7, 12, 30, tzinfo=timezone.utc)
    rows = {(metric, source if source == "sampled" else "process"): value for metric, at, source, value in _rows() if at == minute}
    assert rows == {("documents", "sampled"): 1, ("storage_bytes", "sampled"): 5, ("realtime_connections", "process"): 1}
    assert {m: v for m, _, s, v in _rows("beta-app")} == {"documents": 0, "storage_bytes": 0}


def test_series_sum_counters_and_carry_levels_forward(project: Any) -> None:
    from dashboard.models import UsageBucket

    def put(metric: str, at: datetime, value: int, source: str = "") -> None:
        UsageBucket.objects.unscoped().create(project_id="alpha-app", metric=metric, bucket_start=at, source=source, value=value)

    hour = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
    put("requests", hour + timedelta(minutes=1), 4)
    put("requests", hour + timedelta(minutes=59), 6)
    put("requests", hour + timedelta(hours=1, minutes=5), 1)
    put("documents", hour + timedelta(minutes=10), 7, "sampled")
    put("documents", hour + timedelta(minutes=40), 9, "sampled")
    put("realtime_connections", hour + timedelta(minutes=3), 2, "a:1")
    put("realtime_connections", hour + timedelta(minutes=4), 3, "b:2")
    put("requests", hour - timedelta(days=2), 100)  # outside the range
    series = {s.metric: s for s in usage.usage_series(project_id="alpha-app", range_name="24h", now=NOW)}
    assert list(series) == ["requests", "errors", "function_runs", "push_sends", "documents", "storage_bytes", "realtime_connections"]
    points = dict(series["requests"].points)
    assert len(series["requests"].points) == 24
    assert points[hour] == 10 and points[hour + timedelta(hours=1)] == 1
    assert series["requests"].total == 11
    documents = dict(series["documents"].points)
    assert documents[hour - timedelta(hours=1)] == 0
    assert documents[hour] == 9 and documents[hour + timedelta(hours=2)] == 9
    assert series["documents"].total == 9
    assert dict(series["realtime_connections"].points)[hour] == 5
    assert series["push_sends"].total == 0 and series["function_runs"].total == 0


def test_usage_data_endpoint(seeded: Any, as_user: Any) -> None:
    usage.usage_record("alpha-app", "requests", 5)
    usage.usage_flush()
    response = as_user(seeded["viewer"]).get("/console/p/alpha-app/usage/data.json?range=1h")
    assert response.status_code == 200
    body = response.json()
    assert body["range"] == "1h" and len(body["labels"]) == 60
    totals = {s["metric"]: s["total"] for s in body["series"]}
    assert totals["requests"] == 5 and set(totals) == set(usage.METRICS)
    assert sum(next(s for s in body["series"] if s["metric"] == "requests")["values"]) == 5
    bad = as_user(seeded["viewer"]).get("/console/p/alpha-app/usage/data.json?range=1y")
    assert bad.status_code == 400 and bad.json()["error"]["details"] == {"field": "range"}
    assert as_user(seeded["outsider"]).get("/console/p/alpha-app/usage/data.json").status_code == 404


def test_a_failed_flush_keeps_the_counts(project: Any, monkeypatch: Any) -> None:
    usage.usage_record("alpha-app", "requests", 3)

    def broken(*args: Any) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(usage, "_counters_add", broken)
    with pytest.raises(RuntimeError):
        usage.usage_flush(NOW)
    monkeypatch.undo()
    usage.usage_flush(NOW)
    assert [(m, v) for m, _, _, v in _rows()] == [("requests", 3)]


def test_the_audit_log_says_who_changed_what(seeded: Any, as_user: Any) -> None:
    developer = as_user(seeded["developer"])
    developer.post("/console/p/alpha-app/collections/", {"name": "notes"})
    developer.post("/console/p/alpha-app/collections/posts/documents/d1/", {"action": "delete", "version": "1"})
    created = as_user(seeded["admin"]).post("/console/p/alpha-app/keys/", {"action": "create", "kind": "secret", "name": "ci"})
    import re

    plain = re.search(rb"data-new-key>(sk_[^<]+)<", created.content).group(1).decode()
    page = as_user(seeded["viewer"]).get("/console/p/alpha-app/audit/")
    assert page.status_code == 200
    assert re.findall(rb'data-action="([^"]+)"', page.content) == [b"key.create", b"document.delete", b"collection.create"]
    text = page.content.decode()
    assert "admin@example.com" in text and "developer@example.com" in text and "posts/d1" in text
    assert plain not in text and plain[:10] in text  # the prefix names the key; the key never shows
    other = as_user(seeded["outsider"]).get("/console/p/beta-app/audit/")
    assert b'data-action="' not in other.content
