"""Prometheus metrics of an event consumer process, served on a port of its own.

- `integration_events_consumed_total{type, outcome}`: messages handled, by event type
  (`unreadable` for a body that is no event) and outcome (`applied`, `stale`, `duplicate`,
  `retried`, `deferred`, `dead_lettered`).
- `integration_events_lag_seconds{type}`: from an event's `time` to its handling.
- `integration_events_dead_letters`: messages waiting in the dead-letter queue.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LAG_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class ConsumerMetrics:
    """The consumer's metrics in a registry of their own (one per consumer)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.consumed = Counter(
            "integration_events_consumed_total",
            "Integration events handled, by type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.lag = Histogram(
            "integration_events_lag_seconds",
            "Time from an event's creation (its `time`) to its handling",
            ["type"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "integration_events_dead_letters",
            "Messages waiting in the dead-letter queue",
            registry=self.registry,
        )

    def record_outcome(self, event_type: str | None, outcome: str) -> None:
        """An `EventConsumer` `on_outcome` callback."""
        self.consumed.labels(event_type or "unreadable", outcome).inc()

    def observe_lag(self, event_type: str, *, occurred_at: datetime, now: datetime) -> None:
        self.lag.labels(event_type).observe(max((now - occurred_at).total_seconds(), 0.0))

    def serve(self, *, host: str, port: int) -> Callable[[], None]:
        """Serve `/metrics` on `host:port` from a daemon thread; returns the function that stops
        it."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop
