"""The embedded default (SQLite): a keyed create is two INSERTs in a transaction there, rolled
back when the key is held, where PostgreSQL writes it in one statement."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from items.errors import IdempotencyKeyReusedError
from items.models import Base, IdempotencyRecord, Item
from items.schemas.item_schemas import ItemCreate
from items.services.item_service import Actor, ItemService


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_create_item_with_a_key_stores_the_item_and_its_record_on_sqlite(
    session: Session,
) -> None:
    owner = Actor(user_id=uuid.uuid4(), is_admin=False)

    created = ItemService(session).create_item(owner, ItemCreate(name="Lamp"), idempotency_key="k")

    record = session.scalars(select(IdempotencyRecord)).one()
    item = session.scalars(select(Item)).one()
    assert created.is_replay is False
    assert (record.item_id, record.item_public_id) == (item.id, created.item.public_id)


def test_create_item_with_a_held_key_rolls_its_item_back_and_replays_on_sqlite(
    session: Session,
) -> None:
    owner = Actor(user_id=uuid.uuid4(), is_admin=False)
    service = ItemService(session)
    first = service.create_item(owner, ItemCreate(name="Lamp"), idempotency_key="k")

    again = service.create_item(owner, ItemCreate(name="Lamp"), idempotency_key="k")
    with pytest.raises(IdempotencyKeyReusedError):
        service.create_item(owner, ItemCreate(name="Chair"), idempotency_key="k")

    assert (again.is_replay, again.item) == (True, first.item)
    assert (_count(session, Item), _count(session, IdempotencyRecord)) == (1, 1)
