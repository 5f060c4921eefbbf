"""What the relay tests share: outbox rows written as the use cases write them, the relay on a
thread of its own, and looks at the outbox from outside."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from identity.models import OutboxEvent
from identity.services.event_recorder import EventRecorder
from identity.services.outbox_service import OutboxRelay
from service_kit.db import Database, transaction
from service_kit.events.broker import EventPublisher
from service_kit.events.contract import CloudEvent, UserChanges
from tests.factories import make_user

T = TypeVar("T")

WAIT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Written:
    """The events a test wrote, in the order it wrote them."""

    event_ids: list[uuid.UUID]
    by_user: dict[str, list[uuid.UUID]]


def write_user_events(
    session_factory: sessionmaker[Session], *, users: int, per_user: int
) -> Written:
    """`users` new users with `per_user` events each (`identity.user.updated`), one
    transaction per user, users one after the other."""
    event_ids: list[uuid.UUID] = []
    by_user: dict[str, list[uuid.UUID]] = {}
    for _ in range(users):
        with session_factory() as session, transaction(session):
            user = make_user(session)
            recorder = EventRecorder(session)
            for number in range(per_user):
                recorder.user_updated(user, UserChanges(full_name=f"name {number}"))
            rows = session.scalars(
                select(OutboxEvent.event_id)
                .where(OutboxEvent.subject == str(user.public_id))
                .order_by(OutboxEvent.id)
            ).all()
        by_user[str(user.public_id)] = list(rows)
        event_ids.extend(rows)
    return Written(event_ids, by_user)


def pending_count(database: Database) -> int:
    with database.session_factory() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
            )
            or 0
        )


def sent_event_ids(database: Database) -> set[uuid.UUID]:
    with database.session_factory() as session:
        return set(
            session.scalars(select(OutboxEvent.event_id).where(OutboxEvent.sent_at.isnot(None)))
        )


def stored_events(database: Database) -> dict[uuid.UUID, CloudEvent]:
    with database.session_factory() as session:
        rows = session.scalars(select(OutboxEvent))
        return {row.event_id: CloudEvent.from_json(row.envelope) for row in rows}


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = WAIT_SECONDS) -> T:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)
    return value


def in_user_order(events: list[CloudEvent]) -> bool:
    """Whether each user's events arrived with strictly increasing sequences."""
    last: dict[str, int] = {}
    for event in events:
        sequence = int(event.data["sequence"])
        if sequence <= last.get(event.subject, 0):
            return False
        last[event.subject] = sequence
    return True


@contextmanager
def running_relay(database: Database, broker_url: str, **options: Any) -> Iterator[OutboxRelay]:
    """An `OutboxRelay` running on a thread until the block ends (then stopped as SIGTERM
    would stop it)."""
    options.setdefault("poll_seconds", 0.05)
    relay = OutboxRelay(database.session_factory, EventPublisher(broker_url), **options)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), name="relay", daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        stop.set()
        thread.join(timeout=WAIT_SECONDS)
        assert not thread.is_alive(), "the relay did not stop"
