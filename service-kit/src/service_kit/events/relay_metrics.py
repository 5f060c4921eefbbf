"""Prometheus metrics of an outbox relay, on a registry of its own, served over HTTP.

outbox_pending_events                 gauge    events written and not yet confirmed
outbox_oldest_pending_age_seconds     gauge    age of the oldest of them (0 when none)
outbox_published_events_total{type}   counter  events the broker confirmed
outbox_relay_failures_total{reason}   counter  batches stopped by the `broker` or `database`
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from service_kit.metrics_server import served

PENDING: Final = "outbox_pending_events"
OLDEST_AGE: Final = "outbox_oldest_pending_age_seconds"
PUBLISHED: Final = "outbox_published_events_total"
FAILURES: Final = "outbox_relay_failures_total"


class RelayMetrics:
    """The relay's observer: what it published, what waits, what failed."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._pending = Gauge(
            PENDING, "Outbox events not yet confirmed by the broker", registry=self.registry
        )
        self._oldest_age = Gauge(
            OLDEST_AGE,
            "Age of the oldest outbox event not yet confirmed (0 when there is none)",
            registry=self.registry,
        )
        # The counter's name is given without `_total`; prometheus_client appends it.
        self._published = Counter(
            PUBLISHED.removesuffix("_total"),
            "Outbox events published and confirmed, by event type",
            ["type"],
            registry=self.registry,
        )
        self._failures = Counter(
            FAILURES.removesuffix("_total"),
            "Relay batches stopped by an unavailable broker or database",
            ["reason"],
            registry=self.registry,
        )

    def published(self, event_type: str) -> None:
        self._published.labels(event_type).inc()

    def backlog(self, *, pending: int, oldest_age_seconds: float) -> None:
        self._pending.set(pending)
        self._oldest_age.set(oldest_age_seconds)

    def failed(self, reason: str) -> None:
        self._failures.labels(reason).inc()

    @contextmanager
    def served(self, *, port: int, host: str = "127.0.0.1") -> Iterator[int]:
        """Serve `/metrics` on host:port (0: any free port, yielded) while the block runs."""
        with served(self.registry, port=port, host=host) as bound:
            yield bound
