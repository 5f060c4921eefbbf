"""The transaction boundary services enter: commit on normal exit, roll back on any exception.

Sessions of a `Database` with autocommit reads run plain reads without BEGIN/ROLLBACK (one
round trip instead of three). Entering `transaction()` ends that read phase and starts a real
READ COMMITTED transaction, so everything inside the block is atomic and row locks hold until
it ends. Code that must read consistently with its writes does those reads inside the block.

`idempotent_statement()` is the one exception: a block that sends a single statement, safe to
send twice, runs that statement in autocommit where reads do (it is atomic by itself).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy.orm import Session

AUTOCOMMIT: Final = "AUTOCOMMIT"
WRITE_ISOLATION: Final = "READ COMMITTED"


def _in_autocommit_read(session: Session) -> bool:
    if not session.in_transaction():
        return session.get_bind().get_execution_options().get("isolation_level") == AUTOCOMMIT
    level = session.connection().get_execution_options().get("isolation_level")
    return bool(level == AUTOCOMMIT)


def _refuse_pending_changes(session: Session, *, entering: str) -> None:
    """In an autocommit read phase, model changes would be written without a transaction
    (flushed by the commit that ends the phase, or by the block's statement): change models
    only inside the block."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(f"model changes made before entering {entering}")


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit when the block ends normally; roll back and re-raise when it raises."""
    if _in_autocommit_read(session):
        _refuse_pending_changes(session, entering="transaction()")
        session.commit()  # ends the read phase; nothing to send in autocommit
        session.connection(execution_options={"isolation_level": WRITE_ISOLATION})
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


@contextmanager
def idempotent_statement(session: Session) -> Iterator[Session]:
    """For a write that is one statement, atomic by itself and safe to repeat (a unique key
    makes a second run a no-op): where the session reads in autocommit (PostgreSQL), that
    statement runs in autocommit too, without the BEGIN and COMMIT round trips (two of three);
    elsewhere this is `transaction()`, so a block that needs several statements on another
    database stays atomic there.

    Repeatable because a lost connection may leave its outcome unknown, and the request is then
    run again (`service_kit.http.db` counts no COMMIT here). An exception in the block rolls
    back whatever a transaction holds; in autocommit nothing is held back: the statement
    either committed or failed."""
    if not _in_autocommit_read(session):
        with transaction(session):
            yield session
        return
    _refuse_pending_changes(session, entering="idempotent_statement()")
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
