"""Prometheus metrics of the mail worker (`mail run --metrics-port`), on a registry of its own.

identity_mails_total{outcome}      counter  mails sent, dropped (no suitable account), retrying
                                            (a failed send) or failed (given up)
identity_mails_due                 gauge    mails due now, not yet handled
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from service_kit.metrics_server import served

HANDLED: Final = "identity_mails_total"
DUE: Final = "identity_mails_due"


class MailMetrics:
    """The mail worker's observer."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._handled = Counter(
            HANDLED.removesuffix("_total"),
            "Mails handled by the worker, by outcome (sent, dropped, retrying, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self._due = Gauge(DUE, "Mails due now and not yet handled", registry=self.registry)

    def handled(self, outcome: str) -> None:
        self._handled.labels(outcome).inc()

    def due(self, count: int) -> None:
        self._due.set(count)

    @contextmanager
    def served(self, *, port: int, host: str = "127.0.0.1") -> Iterator[int]:
        with served(self.registry, port=port, host=host) as bound:
            yield bound
