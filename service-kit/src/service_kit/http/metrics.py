"""Prometheus metrics by route and status; multiprocess-safe under several gunicorn workers."""

import os
import time
from typing import Final

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

# Metric objects are process-wide by design: prometheus_client registers them once per process.
REQUESTS: Final = Counter(
    "http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
LATENCY: Final = Histogram(
    "http_request_duration_seconds",
    "Time spent handling HTTP requests",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _route_label() -> str:
    # The URL rule, not the path: `/items/<id>` is one series, not one per item.
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def start_timer() -> None:
    g.metrics_started = time.perf_counter()


def record_request(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        route = _route_label()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    return response


def _metrics() -> Response:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        payload = generate_latest(registry)
    else:
        payload = generate_latest(REGISTRY)
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Serve `/metrics` (`start_timer` and `record_request` are the request hooks)."""
    app.add_url_rule("/metrics", "metrics", _metrics)


def mark_worker_dead(pid: int) -> None:
    """gunicorn `child_exit` hook: drop a dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
