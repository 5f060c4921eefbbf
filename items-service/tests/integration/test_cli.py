"""items' Flask CLI through `app.test_cli_runner()`: seed data and idempotency pruning."""

import re
import uuid
from datetime import timedelta

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from items import wiring
from items.models import IdempotencyRecord, Item
from service_kit_testing import FakeClock
from tests.factories import make_item


@pytest.fixture
def runner(app: OpenAPI) -> FlaskCliRunner:
    return app.test_cli_runner()


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(args=list(args))


def make_record(
    session: Session, clock: FakeClock, *, key: str, expires_in: timedelta
) -> IdempotencyRecord:
    owner_id = uuid.uuid4()
    item = make_item(session, owner_id=owner_id)
    record = IdempotencyRecord(
        owner_id=owner_id,
        key=key,
        request_hash="0" * 64,
        item_id=item.id,
        created_at=clock.now() + expires_in - timedelta(days=1),
        expires_at=clock.now() + expires_in,
    )
    session.add(record)
    session.flush()
    return record


def stored_keys(session: Session) -> set[str]:
    """Every record's key (each test's rows are its own: the outer transaction rolls back)."""
    session.expire_all()
    return set(session.scalars(select(IdempotencyRecord.key)))


def test_idempotency_prune_deletes_expired_records_and_keeps_fresh_ones(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    make_record(session, clock, key="expired", expires_in=timedelta(seconds=-1))
    make_record(session, clock, key="fresh", expires_in=timedelta(hours=1))

    result = invoke(runner, "idempotency", "prune")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleting expired idempotency records: 1 records in ")
    assert stored_keys(session) == {"fresh"}


def test_idempotency_prune_deletes_in_batches_and_reports_each(
    app: OpenAPI, session: Session, clock: FakeClock
) -> None:
    for number in range(5):
        make_record(session, clock, key=f"expired-{number}", expires_in=timedelta(seconds=-1))
    make_record(session, clock, key="fresh", expires_in=timedelta(hours=1))
    reported: list[int] = []

    with app.app_context():
        deleted = wiring.item_service().prune_idempotency_records(
            batch_size=2, on_progress=reported.append
        )

    assert (deleted, reported) == (5, [2, 2, 1])
    assert stored_keys(session) == {"fresh"}


def test_idempotency_prune_deletes_record_when_clock_passes_its_expiry(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    make_record(session, clock, key="k", expires_in=timedelta(hours=1))
    clock.advance(seconds=3600)

    result = invoke(runner, "idempotency", "prune")

    assert result.output.startswith("deleting expired idempotency records: 1 records in ")
    assert stored_keys(session) == set()


def test_idempotency_prune_keeps_the_item_when_its_record_is_deleted(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    item_id = make_record(session, clock, key="k", expires_in=timedelta(seconds=-1)).item_id

    invoke(runner, "idempotency", "prune")

    session.expire_all()
    assert session.get(Item, item_id) is not None


def test_seed_creates_count_items_for_owner(runner: FlaskCliRunner, session: Session) -> None:
    owner = uuid.uuid4()

    result = invoke(runner, "seed", "--owner", str(owner), "--count", "3")

    count = session.scalar(select(func.count()).select_from(Item).where(Item.owner_id == owner))
    assert result.exit_code == 0, result.output
    assert count == 3
    # Not a terminal: one summary line with the rate.
    assert re.fullmatch(
        rf"seeding items for {owner}: 3 items in [0-9.]+ s \([0-9,]+ items/s\)\n", result.output
    )
