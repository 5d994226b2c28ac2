"""Rate limits trip, recover in the next window, and are shared by all web processes."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from baas.api.errors import ResourceExhausted
from baas.api.ratelimit import Limit, rate_limit_hits


def test_limit_trips_then_recovers_in_the_next_window(settings: Any) -> None:
    limits = [Limit("key:unit-1", 3)]
    window_start = 1_700_000_040.0  # a multiple of 60
    for _ in range(3):
        rate_limit_hits(limits, window_seconds=60, now=window_start + 1)
    with pytest.raises(ResourceExhausted) as raised:
        rate_limit_hits(limits, window_seconds=60, now=window_start + 10)
    assert raised.value.retry_after == 50
    assert raised.value.headers() == {"Retry-After": "50"}
    rate_limit_hits(limits, window_seconds=60, now=window_start + 61)  # next window: allowed


def test_ip_and_key_limits_are_separate(settings: Any) -> None:
    rate_limit_hits([Limit("ip:1.2.3.4", 2), Limit("key:a", 100)], window_seconds=60)
    rate_limit_hits([Limit("ip:1.2.3.4", 2), Limit("key:b", 100)], window_seconds=60)
    with pytest.raises(ResourceExhausted) as raised:
        rate_limit_hits([Limit("ip:1.2.3.4", 2), Limit("key:c", 100)], window_seconds=60)
    assert raised.value.details["scope"] == "ip"
    rate_limit_hits([Limit("ip:5.6.7.8", 2), Limit("key:c", 100)], window_seconds=60)


def test_over_http_the_limit_recovers(secret_api: Any, settings: Any) -> None:
    settings.BAAS_RATE_LIMIT_PER_KEY = 2
    settings.BAAS_RATE_LIMIT_WINDOW = 2
    now = time.time()
    time.sleep(2 - now % 2 + 0.05)  # start at the beginning of a window
    assert [secret_api.get("/v1/projects/alpha-app").status for _ in range(3)] == [200, 200, 429]
    time.sleep(2.1)
    assert secret_api.get("/v1/projects/alpha-app").status == 200


def test_failed_authentication_counts_against_the_ip(api: Any, project: Any, settings: Any) -> None:
    settings.BAAS_RATE_LIMIT_PER_IP = 3
    statuses = [api.with_key("sk_" + "x" * 43).get("/v1/projects/alpha-app").status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert api.with_key(project.secret_key).get("/v1/projects/alpha-app").status == 429


@pytest.mark.services
def test_limit_is_shared_by_two_server_processes(asgi_server_factory: Any, project: Any) -> None:
    env = {"BAAS_RATE_LIMIT_PER_KEY": "10", "BAAS_RATE_LIMIT_WINDOW": "60", "BAAS_RATE_LIMIT_NAMESPACE": f"shared-{time.time()}"}
    servers = [asgi_server_factory("a", **env), asgi_server_factory("b", **env)]
    headers = {"X-Api-Key": project.secret_key}
    statuses = [
        requests.get(servers[i % 2].url + "/v1/projects/alpha-app/collections/c/documents/x", headers=headers, timeout=10).status_code
        for i in range(16)
    ]
    # Documents that do not exist are 404: what matters is that only 10 got through.
    assert statuses.count(404) == 10 and statuses.count(429) == 6, statuses
