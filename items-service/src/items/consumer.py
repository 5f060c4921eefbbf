"""The integration-event consumer process (`flask --app items events consume`).

Three loops share one process until `stop` is set (SIGTERM or SIGINT):
- the consumer (main thread): `service_kit.events.broker.EventConsumer` on the durable queue
  `items.identity-events`; each event is applied by `IdentityEventService` in one transaction
  with its inbox row, and acked after that commit. A failing event is retried and then
  dead-lettered; while the database is unreachable, events wait in the queue instead;
- the eraser: works through deleted users' erasure jobs one batch at a time, so a big erasure
  never holds up the revocations behind it in the queue;
- the dead-letter gauge: counts the dead-letter queue every `DEAD_LETTER_POLL_SECONDS`.
Prometheus metrics are served on the metrics port (see `service_kit.events.metrics`).
"""

import logging
import threading
from typing import Final

from prometheus_client import Counter, Gauge

from items import wiring
from items.config import ItemsSettings
from service_kit.clock import Clock
from service_kit.db import Database
from service_kit.db.session import database_unavailable, failure_summary
from service_kit.events.broker import ITEMS_SUBSCRIPTION, EventConsumer, dead_letter_count
from service_kit.events.contract import CloudEvent
from service_kit.events.metrics import ConsumerMetrics

logger = logging.getLogger(__name__)

IDLE_ERASER_POLL_SECONDS: Final = 1.0
ERASER_BACKOFF_SECONDS: Final = (1.0, 30.0)
DEAD_LETTER_POLL_SECONDS: Final = 15.0


class ItemsEventConsumer:
    """Applies identity's events to items' database and erases deleted users' data."""

    def __init__(self, settings: ItemsSettings, database: Database, *, clock: Clock) -> None:
        self._settings = settings
        self._database = database
        self._clock = clock
        self.metrics = ConsumerMetrics()
        self._erased = Counter(
            "items_erased_rows_total",
            "Rows erased for deleted users, by table",
            ["table"],
            registry=self.metrics.registry,
        )
        self._pending_erasures = Gauge(
            "items_erasure_jobs_pending",
            "Deleted users whose data is not erased yet",
            registry=self.metrics.registry,
        )
        self._eraser_wanted = threading.Event()
        self._broker_url = settings.events_broker_url.get_secret_value()

    def handle(self, event: CloudEvent) -> str:
        """The `EventConsumer` handler: apply, commit, say what happened."""
        with self._database.session_factory() as session:
            service = wiring.identity_event_service(
                session, settings=self._settings, clock=self._clock
            )
            result = service.apply(event)
        self.metrics.observe_lag(event.type.value, occurred_at=event.time, now=self._clock.now())
        if result.erasure_queued:
            self._eraser_wanted.set()
        return result.outcome.value

    def run(self, stop: threading.Event, *, metrics_host: str, metrics_port: int | None) -> None:
        """Consume, erase and count dead letters until `stop` is set; then return."""
        stop_metrics = (
            self.metrics.serve(host=metrics_host, port=metrics_port)
            if metrics_port is not None
            else None
        )
        helpers = [
            threading.Thread(target=self.run_eraser, args=(stop,), name="eraser"),
            threading.Thread(target=self._count_dead_letters, args=(stop,), name="dead-letters"),
        ]
        for thread in helpers:
            thread.start()
        consumer = EventConsumer(
            self._broker_url,
            ITEMS_SUBSCRIPTION,
            self.handle,
            max_attempts=self._settings.events_max_attempts,
            on_outcome=self.metrics.record_outcome,
            is_transient=database_unavailable,
        )
        try:
            consumer.run(stop)
        finally:
            stop.set()
            self._eraser_wanted.set()
            for thread in helpers:
                thread.join(timeout=30)
            if stop_metrics is not None:
                stop_metrics()
        logger.info("event consumer stopped")

    def run_eraser(self, stop: threading.Event) -> None:
        """Erase batch after batch while jobs are due; otherwise look again every second (or
        as soon as a deletion is applied)."""
        failures = 0
        while not stop.is_set():
            try:
                with self._database.session_factory() as session:
                    service = wiring.erasure_service(
                        session, settings=self._settings, clock=self._clock
                    )
                    step = service.erase_next_batch()
                    if step is None:
                        self._pending_erasures.set(service.count_pending())
            except Exception as exc:  # noqa: BLE001 - the eraser outlives any failed batch
                first, most = ERASER_BACKOFF_SECONDS
                wait = min(first * 2**failures, most)
                failures += 1
                logger.warning(
                    "erasure batch failed; trying again",
                    extra={"error": failure_summary(exc), "retry_in_seconds": wait},
                )
                stop.wait(wait)
                continue
            failures = 0
            if step is None:
                self._eraser_wanted.wait(IDLE_ERASER_POLL_SECONDS)
                self._eraser_wanted.clear()
                continue
            self._erased.labels("items").inc(step.items_erased)
            self._erased.labels("idempotency_records").inc(step.idempotency_records_erased)
            stop.wait(self._settings.events_erasure_pause_seconds)

    def _count_dead_letters(self, stop: threading.Event) -> None:
        while True:
            try:
                self.metrics.dead_letters.set(
                    dead_letter_count(self._broker_url, ITEMS_SUBSCRIPTION)
                )
            except Exception as exc:  # noqa: BLE001 - a gauge must not end the process
                logger.debug("dead letters not counted", extra={"error": type(exc).__name__})
            if stop.wait(DEAD_LETTER_POLL_SECONDS):
                return
