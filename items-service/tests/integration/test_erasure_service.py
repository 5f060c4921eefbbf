"""ErasureService on real PostgreSQL: a deleted user's items (soft-deleted too) and idempotency
records go, batch by batch, and nothing of anyone else's."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from items.models import ErasureJob, IdempotencyRecord, Item
from items.repositories.erasure_repository import ErasureJobRepository
from items.services.erasure_service import ERASURE_SWEEP_DELAY, ErasureService
from service_kit_testing import FakeClock
from tests.factories import make_deleted_item, make_item

BATCH = 10


def make_record(session: Session, item: Item, clock: FakeClock) -> IdempotencyRecord:
    record = IdempotencyRecord.for_created_item(
        item,
        key=f"key-{uuid.uuid4().hex[:8]}",
        request_hash="0" * 64,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(days=1),
    )
    session.add(record)
    session.flush()
    return record


def make_user_data(
    session: Session, clock: FakeClock, *, live: int, deleted: int = 0, records: int = 0
) -> uuid.UUID:
    owner = uuid.uuid4()
    items = [make_item(session, owner_id=owner) for _ in range(live)]
    items += [
        make_deleted_item(session, owner_id=owner, deleted_at=clock.now()) for _ in range(deleted)
    ]
    for item in items[:records]:
        make_record(session, item, clock)
    return owner


def queue_erasure(session: Session, user_id: uuid.UUID, clock: FakeClock) -> None:
    ErasureJobRepository(session).add_if_absent(
        user_id=user_id, event_id=uuid.uuid4(), requested_at=clock.now()
    )
    session.flush()


def count_items(session: Session, owner: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Item).where(Item.owner_id == owner)) or 0


def count_records(session: Session, owner: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(IdempotencyRecord)
    return session.scalar(stmt.where(IdempotencyRecord.owner_id == owner)) or 0


def job_of(session: Session, user_id: uuid.UUID) -> ErasureJob:
    session.expire_all()
    return session.scalars(select(ErasureJob).where(ErasureJob.user_id == user_id)).one()


@pytest.fixture
def eraser(session: Session, clock: FakeClock) -> ErasureService:
    return ErasureService(session, batch_size=BATCH, clock=clock)


def erase_all(eraser: ErasureService) -> int:
    """Run batches until none is due; how many ran."""
    batches = 0
    while eraser.erase_next_batch() is not None:
        batches += 1
    return batches


def test_erasure_deletes_live_and_soft_deleted_items_and_idempotency_records_of_the_user(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=4, deleted=3, records=5)
    queue_erasure(session, user, clock)

    erase_all(eraser)

    assert (count_items(session, user), count_records(session, user)) == (0, 0)


def test_erasure_keeps_every_other_users_items_and_records(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=3, deleted=1, records=2)
    other = make_user_data(session, clock, live=3, deleted=1, records=2)
    queue_erasure(session, user, clock)

    erase_all(eraser)

    assert (count_items(session, other), count_records(session, other)) == (4, 2)


def test_erasure_deletes_at_most_one_batch_of_items_per_transaction(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=BATCH * 2 + 5)
    queue_erasure(session, user, clock)

    steps = [eraser.erase_next_batch() for _ in range(3)]

    assert [step.items_erased if step else None for step in steps] == [BATCH, BATCH, 5]
    assert count_items(session, user) == 0


def test_erasure_takes_the_soft_deleted_items_in_the_same_batch_when_live_ones_run_out(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=4, deleted=BATCH)
    queue_erasure(session, user, clock)

    step = eraser.erase_next_batch()

    assert step is not None
    assert step.items_erased == BATCH
    assert count_items(session, user) == 4


def test_erasure_records_its_progress_on_the_job_after_each_batch(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=BATCH + 3)
    queue_erasure(session, user, clock)

    eraser.erase_next_batch()

    job = job_of(session, user)
    assert (job.items_erased, job.completed_at) == (BATCH, None)


def test_erasure_completes_the_job_only_after_the_sweep_delay(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=3)
    queue_erasure(session, user, clock)
    erase_all(eraser)
    waiting = job_of(session, user)
    assert (waiting.completed_at, waiting.run_after) == (None, clock.now() + ERASURE_SWEEP_DELAY)
    assert eraser.erase_next_batch() is None  # not due yet
    clock.advance(seconds=ERASURE_SWEEP_DELAY.total_seconds())

    step = eraser.erase_next_batch()

    assert step is not None
    assert step.is_completed
    assert job_of(session, user).completed_at == clock.now()
    assert eraser.erase_next_batch() is None


def test_erasure_sweep_deletes_an_item_created_after_the_first_pass(
    eraser: ErasureService, session: Session, clock: FakeClock
) -> None:
    user = make_user_data(session, clock, live=2)
    queue_erasure(session, user, clock)
    erase_all(eraser)
    make_item(session, owner_id=user)  # a request that verified its token before the revocation
    clock.advance(seconds=ERASURE_SWEEP_DELAY.total_seconds())

    erase_all(eraser)

    assert count_items(session, user) == 0
    assert job_of(session, user).items_erased == 3


def test_erase_next_batch_returns_none_when_no_job_is_pending(eraser: ErasureService) -> None:
    assert eraser.erase_next_batch() is None
