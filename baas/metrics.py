"""Prometheus metrics of the platform (scraped at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

http_requests = Counter("baas_http_requests_total", "HTTP requests served", ["method", "status"])
http_latency = Histogram(
    "baas_http_request_duration_seconds",
    "HTTP request latency",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
rate_limited = Counter("baas_rate_limited_total", "Requests refused by a rate limit", ["scope"])
storage_download_bytes = Counter(
    "baas_storage_download_bytes_total",
    "Object bytes sent to clients, by how: the kernel's sendfile or through the process",
    ["path"],
)
