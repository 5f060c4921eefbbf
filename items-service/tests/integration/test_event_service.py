"""IdentityEventService on real PostgreSQL: one transaction per event with its inbox row, no
second effect for a duplicate, per-user sequences, and what each event type leaves behind."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from items.models import (
    ErasureJob,
    InboxEvent,
    InboxOutcome,
    RevocationFeedEntry,
    UserEventSequence,
)
from items.repositories.revocation_repository import RevocationFeedRepository
from items.services.event_service import EventOutcome, IdentityEventService
from service_kit.events.contract import (
    CloudEvent,
    KeyRetired,
    KeyRotated,
    Payload,
    SessionRevoked,
    TokensRevoked,
    UserChanges,
    UserDeleted,
    UserUpdated,
)
from service_kit.security.revocation import RevocationKind
from service_kit_testing import FakeClock
from service_kit_testing.concurrency import all_at_once

LIFETIME_SECONDS = 930


def event_of(payload: Payload, clock: FakeClock, *, at: datetime | None = None) -> CloudEvent:
    return CloudEvent.of(payload, event_id=uuid.uuid4(), time=at or clock.now())


def session_revoked(user_id: uuid.UUID, sequence: int, *sessions: uuid.UUID) -> SessionRevoked:
    return SessionRevoked(
        user_id=user_id,
        sequence=sequence,
        session_ids=list(sessions) or [uuid.uuid4()],
        reason="logout",
    )


def updated(user_id: uuid.UUID, sequence: int) -> UserUpdated:
    return UserUpdated(user_id=user_id, sequence=sequence, changes=UserChanges(full_name="Ada"))


@pytest.fixture
def service(session: Session, clock: FakeClock) -> IdentityEventService:
    return IdentityEventService(session, revocation_lifetime_seconds=LIFETIME_SECONDS, clock=clock)


def feed(session: Session) -> list[RevocationFeedEntry]:
    return list(session.scalars(select(RevocationFeedEntry).order_by(RevocationFeedEntry.id)))


def inbox(session: Session, event: CloudEvent) -> InboxEvent | None:
    return session.scalars(select(InboxEvent).where(InboxEvent.event_id == event.id)).one_or_none()


def stored_sequence(session: Session, user_id: uuid.UUID) -> int | None:
    return session.scalar(
        select(UserEventSequence.sequence).where(UserEventSequence.user_id == user_id)
    )


# --------------------------------------------------------------------------- once, atomically


def test_apply_records_the_event_in_the_inbox_when_it_applies_it(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    event = event_of(session_revoked(uuid.uuid4(), 1), clock)

    result = service.apply(event)

    row = inbox(session, event)
    assert result.outcome is EventOutcome.APPLIED
    assert row is not None
    assert (row.event_type, row.sequence, row.outcome) == (
        "identity.session.revoked",
        1,
        InboxOutcome.APPLIED,
    )


def test_apply_has_no_second_effect_when_the_same_event_is_delivered_twice(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    event = event_of(session_revoked(uuid.uuid4(), 1), clock)
    service.apply(event)

    again = service.apply(event)

    assert again.outcome is EventOutcome.DUPLICATE
    assert len(feed(session)) == 1
    assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1


class FailingFeed(RevocationFeedRepository):
    """Fails after its row was written, like any failure later in the transaction."""

    def append(self, entry: RevocationFeedEntry) -> RevocationFeedEntry:
        super().append(entry)
        raise RuntimeError("disk full")


def test_apply_leaves_neither_inbox_row_nor_effect_when_part_of_it_fails(
    session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    event = event_of(session_revoked(user_id, 1), clock)
    failing = IdentityEventService(
        session,
        revocation_lifetime_seconds=LIFETIME_SECONDS,
        clock=clock,
        revocations=FailingFeed(session),
    )

    with pytest.raises(RuntimeError):
        failing.apply(event)

    assert inbox(session, event) is None
    assert feed(session) == []
    assert stored_sequence(session, user_id) is None


def test_apply_has_one_effect_when_two_deliveries_of_an_event_race(
    module_database_url: str, clock: FakeClock
) -> None:
    engine = create_engine(module_database_url, pool_size=4)
    event = event_of(session_revoked(uuid.uuid4(), 1), clock)

    def deliver(_index: int) -> EventOutcome:
        with Session(engine) as session:
            service = IdentityEventService(
                session, revocation_lifetime_seconds=LIFETIME_SECONDS, clock=clock
            )
            return service.apply(event).outcome

    try:
        outcomes = all_at_once(deliver, count=2)
        with Session(engine) as session:
            entries = session.scalars(
                select(RevocationFeedEntry).where(
                    RevocationFeedEntry.session_id
                    == SessionRevoked.model_validate(event.data).session_ids[0]
                )
            ).all()
    finally:
        engine.dispose()

    assert sorted(outcomes) == [EventOutcome.APPLIED, EventOutcome.DUPLICATE]
    assert len(entries) == 1


# --------------------------------------------------------------------------- sequences


def test_apply_keeps_the_highest_sequence_when_a_users_events_arrive_in_order(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()

    for sequence in (1, 2, 3):
        service.apply(event_of(updated(user_id, sequence), clock))

    assert stored_sequence(session, user_id) == 3


def test_apply_records_an_older_event_as_stale_when_a_newer_one_of_the_user_was_applied(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    service.apply(event_of(updated(user_id, 2), clock))
    older = event_of(updated(user_id, 1), clock)

    result = service.apply(older)

    row = inbox(session, older)
    assert result.outcome is EventOutcome.STALE
    assert row is not None
    assert row.outcome is InboxOutcome.STALE
    assert stored_sequence(session, user_id) == 2


def test_apply_revokes_the_session_when_its_revocation_arrives_after_a_newer_event_of_the_user(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    service.apply(event_of(updated(user_id, 5), clock))

    service.apply(event_of(session_revoked(user_id, 4, session_id), clock))

    assert [entry.session_id for entry in feed(session)] == [session_id]
    assert stored_sequence(session, user_id) == 5


def test_apply_keeps_the_newest_not_before_when_token_revocations_arrive_in_reverse_order(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    earlier, later = clock.now() - timedelta(minutes=5), clock.now()
    newest = TokensRevoked(user_id=user_id, sequence=2, not_before=later, reason="logout_all")
    oldest = TokensRevoked(user_id=user_id, sequence=1, not_before=earlier, reason="logout_all")

    service.apply(event_of(newest, clock))
    service.apply(event_of(oldest, clock))

    in_force = max(entry.not_before or 0 for entry in feed(session))
    assert in_force == int(later.timestamp())


def test_apply_queues_the_erasure_when_the_deletion_arrives_after_a_newer_event_of_the_user(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    service.apply(event_of(session_revoked(user_id, 8), clock))

    result = service.apply(event_of(UserDeleted(user_id=user_id, sequence=7), clock))

    assert result.erasure_queued
    assert session.scalars(select(ErasureJob.user_id)).all() == [user_id]


# --------------------------------------------------------------------------- effects


def test_apply_adds_one_feed_entry_per_revoked_session_in_force_for_the_token_lifetime(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    revoked_at = clock.now() - timedelta(seconds=3)

    service.apply(event_of(session_revoked(user_id, 1, first, second), clock, at=revoked_at))

    entries = feed(session)
    assert [(e.kind, e.user_id, e.session_id) for e in entries] == [
        (RevocationKind.SESSION, user_id, first),
        (RevocationKind.SESSION, user_id, second),
    ]
    assert {e.expires_at for e in entries} == {revoked_at + timedelta(seconds=LIFETIME_SECONDS)}


@pytest.mark.parametrize(
    ("not_before", "stored"),
    [
        (datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC), 1_893_499_200),
        (datetime(2030, 1, 1, 12, 0, 0, 1, tzinfo=UTC), 1_893_499_201),
    ],
    ids=["whole-second", "fraction-rounded-up"],
)
def test_apply_stores_not_before_in_whole_seconds_rounded_up(
    service: IdentityEventService,
    session: Session,
    clock: FakeClock,
    not_before: datetime,
    stored: int,
) -> None:
    user_id = uuid.uuid4()
    revoked = TokensRevoked(user_id=user_id, sequence=1, not_before=not_before, reason="x")

    service.apply(event_of(revoked, clock))

    (entry,) = feed(session)
    assert (entry.kind, entry.user_id, entry.not_before) == (RevocationKind.USER, user_id, stored)


def test_apply_voids_the_users_tokens_from_the_deletion_on_when_a_user_is_deleted(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    deleted_at = clock.now() - timedelta(seconds=2)

    service.apply(event_of(UserDeleted(user_id=user_id, sequence=3), clock, at=deleted_at))

    (entry,) = feed(session)
    assert (entry.kind, entry.user_id, entry.not_before) == (
        RevocationKind.USER,
        user_id,
        int(deleted_at.timestamp()),
    )


def test_apply_queues_one_erasure_job_when_a_users_deletion_is_delivered_as_two_events(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()

    first = service.apply(event_of(UserDeleted(user_id=user_id, sequence=3), clock))
    second = service.apply(event_of(UserDeleted(user_id=user_id, sequence=4), clock))

    job = session.scalars(select(ErasureJob).where(ErasureJob.user_id == user_id)).one()
    assert (first.erasure_queued, second.erasure_queued) == (True, False)
    assert (job.requested_at, job.run_after, job.completed_at) == (clock.now(), clock.now(), None)


@pytest.mark.parametrize("payload_type", [KeyRotated, KeyRetired])
def test_apply_adds_a_keys_entry_when_the_signing_keys_change(
    service: IdentityEventService,
    session: Session,
    clock: FakeClock,
    payload_type: type[KeyRotated] | type[KeyRetired],
) -> None:
    service.apply(event_of(payload_type(kid="k2"), clock))

    (entry,) = feed(session)
    assert (entry.kind, entry.kid, entry.user_id) == (RevocationKind.KEYS, "k2", None)


def test_apply_changes_nothing_but_the_sequence_when_a_user_is_updated(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()

    service.apply(event_of(updated(user_id, 1), clock))

    assert feed(session) == []
    assert session.scalars(select(ErasureJob)).all() == []
    assert stored_sequence(session, user_id) == 1


def test_apply_raises_when_the_events_data_does_not_match_its_type(
    service: IdentityEventService, session: Session, clock: FakeClock
) -> None:
    good = event_of(session_revoked(uuid.uuid4(), 1), clock)
    broken = good.model_copy(update={"data": {"user_id": str(uuid.uuid4()), "sequence": 1}})

    with pytest.raises(ValueError, match="validation error"):
        service.apply(broken)

    assert inbox(session, broken) is None


# --------------------------------------------------------------------------- pruning


@pytest.fixture
def old_records(service: IdentityEventService, clock: FakeClock) -> tuple[CloudEvent, CloudEvent]:
    """An event applied 8 days ago (expired revocation, inbox row past the 7-day retention) and
    one applied now."""
    old = event_of(session_revoked(uuid.uuid4(), 1), clock, at=clock.now())
    service.apply(old)
    clock.advance(seconds=8 * 86_400)
    fresh = event_of(session_revoked(uuid.uuid4(), 1), clock)
    service.apply(fresh)
    return old, fresh


def test_prune_records_deletes_expired_revocations_and_inbox_rows_past_the_retention(
    service: IdentityEventService,
    session: Session,
    old_records: tuple[CloudEvent, CloudEvent],
) -> None:
    old, fresh = old_records

    pruned = service.prune_records()

    assert (pruned.revocations, pruned.inbox_events) == (1, 1)
    assert inbox(session, old) is None
    assert inbox(session, fresh) is not None
    assert len(feed(session)) == 1
