"""transaction() on a real PostgreSQL with autocommit reads: atomic writes, guarded misuse."""

from collections.abc import Iterator

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from service_kit.db import Database, IntegerPkMixin, idempotent_statement, transaction
from service_kit_testing import PostgresServer


class _Base(IntegerPkMixin, DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "notes"

    body: Mapped[str] = mapped_column(String(50))


@pytest.fixture(scope="module")
def database(pg_server: PostgresServer) -> Iterator[Database]:
    with pg_server.temporary_database("kit_tx") as url:
        database = Database(url, autocommit_reads=True)
        _Base.metadata.create_all(database.engine)
        yield database
        database.dispose()


@pytest.fixture(autouse=True)
def _empty_table(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("TRUNCATE notes"))


def _bodies(database: Database) -> list[str]:
    with database.session_factory() as session:
        return list(session.scalars(select(Note.body).order_by(Note.id)))


def test_reads_outside_transaction_run_in_autocommit_when_autocommit_reads_are_on(
    database: Database,
) -> None:
    with database.session_factory() as session:
        session.execute(select(Note))

        level = session.connection().get_execution_options().get("isolation_level")

    assert level == "AUTOCOMMIT"


def _add_then_fail(session: Session) -> None:
    with transaction(session):
        session.add(Note(body="first"))
        session.flush()  # the row reached the database inside the transaction
        raise ValueError("boom")


def test_transaction_writes_nothing_when_the_block_raises_after_a_read(
    database: Database,
) -> None:
    with database.session_factory() as session:
        session.execute(select(Note))  # the read phase, in autocommit

        with pytest.raises(ValueError, match="boom"):
            _add_then_fail(session)

    assert _bodies(database) == []


def test_transaction_commits_every_write_when_the_block_ends_normally(database: Database) -> None:
    with database.session_factory() as session:
        session.execute(select(Note))

        with transaction(session):
            session.add_all([Note(body="a"), Note(body="b")])

    assert _bodies(database) == ["a", "b"]


def test_transaction_refuses_changes_made_before_the_block_when_reads_are_autocommit(
    database: Database,
) -> None:
    with database.session_factory() as session:
        session.execute(select(Note))
        session.add(Note(body="outside"))

        with pytest.raises(RuntimeError, match="before entering"), transaction(session):
            pass

    assert _bodies(database) == []


def test_idempotent_statement_commits_its_statement_at_once_when_reads_are_autocommit(
    database: Database,
) -> None:
    with database.session_factory() as session, idempotent_statement(session):
        session.connection().execute(text("INSERT INTO notes (body) VALUES ('a')"))
        level = session.connection().get_execution_options().get("isolation_level")
        seen_meanwhile = _bodies(database)  # from another connection, before the block ends

    assert level == "AUTOCOMMIT"
    assert seen_meanwhile == ["a"]


def _insert_then_fail(session: Session) -> None:
    with idempotent_statement(session):
        session.connection().execute(text("INSERT INTO notes (body) VALUES ('a')"))
        raise ValueError("boom")


def test_idempotent_statement_rolls_back_when_reads_are_not_autocommit_and_the_block_raises(
    pg_server: PostgresServer,
) -> None:
    with pg_server.temporary_database("kit_tx_plain") as url:
        database = Database(url, autocommit_reads=False)
        _Base.metadata.create_all(database.engine)
        with database.session_factory() as session, pytest.raises(ValueError, match="boom"):
            _insert_then_fail(session)
        remaining = _bodies(database)
        database.dispose()

    assert remaining == []


def test_idempotent_statement_refuses_model_changes_made_before_it(database: Database) -> None:
    with database.session_factory() as session:
        session.add(Note(body="early"))

        with pytest.raises(RuntimeError, match="before entering"), idempotent_statement(session):
            pass
