"""`flask --app identity events prune`: sent events past the retention go, the rest stays.
(`events relay` runs as a real process in test_relay_process.py.)"""

import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskCliRunner
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.models import OutboxEvent
from identity.repositories.outbox_repository import OutboxRepository
from service_kit.events.contract import CloudEvent, KeyRotated
from service_kit_testing import FakeClock
from tests.conftest import make_settings

RETENTION_SECONDS = 86_400  # one day, not the default week: the tests show the setting counts


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url, events_retention_seconds=RETENTION_SECONDS)


@pytest.fixture
def runner(app: OpenAPI) -> FlaskCliRunner:
    return app.test_cli_runner()


def outbox_event(session: Session, clock: FakeClock, *, sent_hours_ago: float | None) -> uuid.UUID:
    """An event written a month ago; sent that many hours ago, or still pending (None)."""
    event = CloudEvent.of(
        KeyRotated(kid=f"kid-{uuid.uuid4().hex}"),
        event_id=uuid.uuid4(),
        time=clock.now() - timedelta(days=30),
    )
    row = OutboxRepository(session).add_event(event)
    if sent_hours_ago is not None:
        row.sent_at = clock.now() - timedelta(hours=sent_hours_ago)
    session.flush()
    return event.id


def stored_ids(session: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    session.expire_all()
    return set(session.scalars(select(OutboxEvent.event_id).where(OutboxEvent.event_id.in_(ids))))


def test_events_prune_deletes_sent_events_older_than_the_retention(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    old = outbox_event(session, clock, sent_hours_ago=25)
    recent = outbox_event(session, clock, sent_hours_ago=23)

    result = runner.invoke(args=["events", "prune"])

    assert result.exit_code == 0, result.output
    assert stored_ids(session, [old, recent]) == {recent}


def test_events_prune_keeps_pending_events_however_old_they_are(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    pending = outbox_event(session, clock, sent_hours_ago=None)

    runner.invoke(args=["events", "prune"])

    assert stored_ids(session, [pending]) == {pending}


def test_events_prune_prints_how_many_events_it_deleted(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    for _ in range(2):
        outbox_event(session, clock, sent_hours_ago=48)

    result = runner.invoke(args=["events", "prune"])

    assert result.output.strip() == "deleted 2 sent events"
