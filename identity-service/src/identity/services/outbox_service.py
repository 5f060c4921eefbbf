"""The outbox relay: publishes pending events to the broker in order, marks them sent, prunes.

Delivery is at least once. A batch is claimed (`FOR UPDATE SKIP LOCKED`), published one
confirmed message at a time and marked sent, all in one short transaction, so:

- relays running at once claim different rows and publish each row once;
- an event is marked sent only after the broker confirmed it; a broker that goes away ends the
  batch (what was confirmed is marked sent) and the relay retries with backoff: nothing is lost
  and, in the normal case, nothing is published twice;
- a relay that dies between a confirm and its commit (SIGKILL, a lost database connection) has
  its batch published again by the next relay: duplicates are limited to that batch, and
  consumers drop them by event id.

Publishing while the rows are locked is the price of that simplicity: the transaction stays
open for one batch of broker round trips (about a millisecond per event, bounded by the confirm
timeout when the broker stalls). The locks hold only the claimed outbox rows: writers insert new
rows and prune deletes sent ones without waiting. The alternative (a claim column with a lease,
commit, publish, then mark sent) needs no open transaction during I/O but a lease to tune and a
second write per event.

Order: a user's events must reach consumers in `sequence` order (they drop older ones). Within
a batch rows go out in id order; across relays, a relay publishes a user's rows only while no
older pending row of that user is held by another relay, and stops at the first gap.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from identity.models import OutboxEvent
from identity.repositories.outbox_repository import OutboxRepository, PendingPosition
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction
from service_kit.events.broker import BrokerUnavailableError
from service_kit.events.contract import CloudEvent

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where the relay publishes (`service_kit.events.broker.EventPublisher`)."""

    def publish(self, event: CloudEvent, *, traceparent: str | None = None) -> None:
        """Return once the broker confirmed the event (`traceparent`: the trace context the
        event was recorded in, which the publish continues).

        Raises:
            BrokerUnavailableError: not confirmed.
        """

    def close(self) -> None: ...


class RelayObserver(Protocol):
    """What the relay reports (Prometheus in production: `service_kit.events.relay_metrics`)."""

    def published(self, event_type: str) -> None: ...

    def backlog(self, *, pending: int, oldest_age_seconds: float) -> None: ...

    def failed(self, reason: str) -> None: ...


class _NoObserver:
    def published(self, event_type: str) -> None:
        pass

    def backlog(self, *, pending: int, oldest_age_seconds: float) -> None:
        pass

    def failed(self, reason: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int
    published: int
    broker_error: str | None = None
    """Why the broker stopped the batch (None: every publishable row was confirmed)."""


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_age_seconds: float


class OutboxService:
    """Use cases on the outbox, on one session."""

    def __init__(
        self,
        session: Session,
        *,
        outbox: OutboxRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._outbox = outbox or OutboxRepository(session)
        self._clock = clock

    def publish_pending(
        self, sink: EventSink, *, limit: int, on_published: Callable[[str], None] | None = None
    ) -> BatchResult:
        """Publish up to `limit` pending events in order and mark the confirmed ones sent."""
        published: list[OutboxEvent] = []
        broker_error: str | None = None
        with transaction(self._session):
            claimed = self._outbox.claim_pending(limit=limit)
            for row in self._publishable(claimed):
                try:
                    sink.publish(CloudEvent.from_json(row.envelope), traceparent=row.traceparent)
                except BrokerUnavailableError as exc:
                    broker_error = str(exc)
                    break
                published.append(row)
                if on_published is not None:
                    on_published(row.event_type)
            self._outbox.mark_sent([row.id for row in published], at=self._clock.now())
        return BatchResult(len(claimed), len(published), broker_error)

    def measure_backlog(self) -> Backlog:
        summary = self._outbox.summarise_pending()
        age = 0.0
        if summary.oldest_created_at is not None:
            age = max(0.0, (self._clock.now() - summary.oldest_created_at).total_seconds())
        return Backlog(summary.count, age)

    def prune_sent_events(self, *, retention_seconds: int) -> int:
        """Delete events sent more than `retention_seconds` ago; pending ones always stay."""
        cutoff = self._clock.now() - timedelta(seconds=retention_seconds)
        with transaction(self._session):
            deleted = self._outbox.delete_sent_before(cutoff)
        logger.info("sent events pruned", extra={"deleted": deleted})
        return deleted

    def _publishable(self, claimed: Sequence[OutboxEvent]) -> list[OutboxEvent]:
        """The claimed rows that may go out now, in id order: for each subject, the rows up to
        the first pending row of that subject this relay does not hold (another relay has it,
        and it must go out first)."""
        if not claimed:
            return []
        held = {row.id for row in claimed}
        pending = self._outbox.list_pending_positions(
            {row.subject for row in claimed}, up_to_id=max(held)
        )
        blocked = _subjects_blocked_before(pending, held)
        return [row for row in claimed if row.id < blocked.get(row.subject, row.id + 1)]


def _subjects_blocked_before(pending: Sequence[PendingPosition], held: set[int]) -> dict[str, int]:
    """For each subject, the id of its first pending row that is not held, if any."""
    blocked: dict[str, int] = {}
    for position in pending:  # in id order
        if position.id not in held and position.subject not in blocked:
            blocked[position.subject] = position.id
    return blocked


class OutboxRelay:
    """The relay loop (`flask --app identity events relay`): one batch per transaction, a
    fresh session per batch, until `stop` is set; the batch in progress is finished first."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        sink: EventSink,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.2,
        initial_backoff_seconds: float = 0.25,
        max_backoff_seconds: float = 5.0,
        backlog_every_seconds: float = 1.0,
        observer: RelayObserver | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session_factory = session_factory
        self._sink = sink
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._initial_backoff = initial_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._backlog_every = backlog_every_seconds
        self._observer = observer or _NoObserver()
        self._clock = clock
        self._backlog_measured_at = float("-inf")

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; broker and database outages are waited out.

        The first failure is retried at once (a connection that went stale while idle, say the
        broker closed it, is simply opened again); further ones wait `initial_backoff_seconds`,
        doubling up to `max_backoff_seconds`, and are logged once per outage.
        """
        logger.info("event relay started", extra={"batch_size": self._batch_size})
        failures = 0
        try:
            while not stop.is_set():
                try:
                    result = self.relay_once()
                    self._measure_backlog_now_and_then()
                    failure = (
                        None if result.broker_error is None else ("broker", result.broker_error)
                    )
                except SQLAlchemyError as exc:
                    result, failure = None, ("database", type(exc).__name__)
                if failure is not None:
                    failures += 1
                    stop.wait(self._failed(*failure, failures=failures))
                    continue
                if failures > 1:
                    logger.info("event relay recovered", extra={"failed_attempts": failures})
                failures = 0
                if result is None or result.published < self._batch_size:
                    stop.wait(self._poll_seconds)  # caught up: wait for new events
        finally:
            self._sink.close()
            logger.info("event relay stopped")

    def relay_once(self) -> BatchResult:
        """One batch, in a transaction of its own."""
        with self._session_factory() as session:
            return OutboxService(session, clock=self._clock).publish_pending(
                self._sink, limit=self._batch_size, on_published=self._observer.published
            )

    def measure_backlog(self) -> Backlog:
        """Count pending events and report them to the observer."""
        with self._session_factory() as session:
            backlog = OutboxService(session, clock=self._clock).measure_backlog()
        self._observer.backlog(
            pending=backlog.pending, oldest_age_seconds=backlog.oldest_age_seconds
        )
        self._backlog_measured_at = time.monotonic()
        return backlog

    def _measure_backlog_now_and_then(self) -> None:
        if time.monotonic() - self._backlog_measured_at >= self._backlog_every:
            self.measure_backlog()

    def _failed(self, reason: str, error: str, *, failures: int) -> float:
        """Report a failed attempt; how long to wait before the next."""
        self._observer.failed(reason)
        if failures == 1:
            logger.debug("event relay attempt failed; retrying at once", extra={"error": error})
            return 0.0
        delay = min(self._initial_backoff * 2.0 ** (failures - 2), self._max_backoff)
        extra = {"reason": reason, "error": error, "retry_in_seconds": delay}
        if failures == 2:  # once per outage
            logger.warning("event relay cannot publish; retrying", extra=extra)
        else:
            logger.debug("event relay still cannot publish", extra=extra)
        return delay
