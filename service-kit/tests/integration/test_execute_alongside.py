"""execute_alongside: independent writes ride in one statement on PostgreSQL, one by one on
SQLite, in the caller's transaction either way."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Engine,
    String,
    bindparam,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from service_kit.db import BoundWrite, IntegerPkMixin, execute_alongside
from tests.conftest import engine_on


class _Base(IntegerPkMixin, DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "alongside_notes"

    text: Mapped[str] = mapped_column(String(40))


DELETE_BY_TEXT = delete(Note).where(Note.text == bindparam("gone"))
RENAME = update(Note).where(Note.text == bindparam("before")).values(text=bindparam("after"))


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from engine_on(request, _Base.metadata, name="kit_alongside")


def _texts(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Note.text).order_by(Note.text)))


def _seed(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add_all([Note(text="old"), Note(text="stale")])


def test_the_writes_alongside_apply_with_the_statement(engine: Engine) -> None:
    _seed(engine)
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    with Session(engine) as session, session.begin():
        execute_alongside(
            session,
            insert(Note),
            {"text": "new"},
            BoundWrite(DELETE_BY_TEXT, {"gone": "stale"}),
            BoundWrite(RENAME, {"before": "old", "after": "kept"}),
        )
    event.remove(engine, "before_cursor_execute", record)

    assert _texts(engine) == ["kept", "new"]
    assert len(sent) == (1 if engine.dialect.name == "postgresql" else 3)


def test_a_rollback_undoes_the_writes_alongside_too(engine: Engine) -> None:
    _seed(engine)

    with Session(engine) as session:
        execute_alongside(
            session, insert(Note), {"text": "new"}, BoundWrite(DELETE_BY_TEXT, {"gone": "stale"})
        )
        session.rollback()

    assert _texts(engine) == ["old", "stale"]


def test_a_parameter_name_used_twice_is_refused_before_anything_is_sent(engine: Engine) -> None:
    _seed(engine)

    with Session(engine) as session, pytest.raises(ValueError, match="gone"):
        execute_alongside(
            session,
            delete(Note).where(Note.text == bindparam("gone")),
            {"gone": "old"},
            BoundWrite(DELETE_BY_TEXT, {"gone": "stale"}),
        )

    assert _texts(engine) == ["old", "stale"]
