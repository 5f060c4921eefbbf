"""insert_skipping_conflicts: one cached INSERT ... ON CONFLICT DO NOTHING, on both databases."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, String, UniqueConstraint, select
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Uuid

from service_kit.db import IntegerPkMixin, UTCDateTime
from service_kit.db.repository import insert_skipping_conflicts
from tests.conftest import engine_on


class _Base(IntegerPkMixin, DeclarativeBase):
    pass


class Claim(_Base):
    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("owner", "key"),)

    owner: Mapped[uuid.UUID] = mapped_column(Uuid())
    key: Mapped[str] = mapped_column(String(20))  # a keyword in SQL: the statement quotes it
    at: Mapped[datetime] = mapped_column(UTCDateTime())


COLUMNS = ("owner", "key", "at")


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from engine_on(request, _Base.metadata, name="kit_claims")


def _claim(engine: Engine, owner: uuid.UUID, key: str) -> int | None:
    statement = insert_skipping_conflicts(Claim, COLUMNS, conflict=("owner", "key"), returning="id")
    with engine.begin() as connection:
        row = connection.execute(
            statement, {"owner": owner, "key": key, "at": datetime.now(UTC)}
        ).first()
    return None if row is None else int(row[0])


def test_insert_skipping_conflicts_returns_the_new_key_and_stores_typed_values(
    engine: Engine,
) -> None:
    owner = uuid.uuid4()

    new_id = _claim(engine, owner, "k")

    with engine.connect() as connection:
        stored = connection.execute(select(Claim.id, Claim.owner, Claim.at)).one()
    assert stored.id == new_id
    assert stored.owner == owner
    assert stored.at.tzinfo is not None


def test_insert_skipping_conflicts_returns_nothing_and_keeps_the_first_row_when_it_conflicts(
    engine: Engine,
) -> None:
    owner = uuid.uuid4()
    first = _claim(engine, owner, "k")

    again = _claim(engine, owner, "k")
    other_owner = _claim(engine, uuid.uuid4(), "k")

    with engine.connect() as connection:
        ids = list(connection.scalars(select(Claim.id).order_by(Claim.id)))
    assert again is None
    assert ids == [first, other_owner]


def test_insert_skipping_conflicts_is_compiled_once_and_then_served_from_the_cache(
    engine: Engine,
) -> None:
    statement = insert_skipping_conflicts(Claim, COLUMNS, conflict=("owner", "key"), returning="id")
    hits = []
    with engine.begin() as connection:
        for key in ("a", "b"):
            result = connection.execute(
                statement, {"owner": uuid.uuid4(), "key": key, "at": datetime.now(UTC)}
            )
            hits.append(result.context.cache_hit)  # type: ignore[attr-defined]
            result.all()

    assert hits == [CacheStats.CACHE_MISS, CacheStats.CACHE_HIT]
