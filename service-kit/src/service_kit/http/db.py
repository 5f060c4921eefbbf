"""One lazily opened session per request, closed at app-context teardown, and one more run of
a request whose database connection was lost before it committed anything.

A server restart or failover leaves the pool full of dead connections. The first statement on
one fails with `connection_invalidated` and the pool drops the rest; the request that met it is
then run again on a fresh session, which is safe while no COMMIT has gone out in this request:
the server rolled back whatever the lost transaction had done, and autocommit reads write
nothing. A COMMIT that was sent has an unknown outcome, so such a request is not run again (the
problem handlers answer 503 `database_unavailable`). Commits are noted through the session
factory's events, so every session of the app's database counts (identity's key cache opens
its own). This costs nothing until a connection is lost: no liveness round trip per checkout,
nothing per statement, a flag per transaction.

Writes must run inside `transaction()` (as services do): a write sent in autocommit would be
committed without a COMMIT, and a rerun would repeat it. The exception is a write made safe to
repeat by its own statement (`idempotent_statement()`): a rerun of it changes nothing.
"""

import logging
from collections.abc import Callable
from typing import Final, TypeVar, cast

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from service_kit.db.session import Database, connection_lost, failure_summary
from service_kit.db.transaction import AUTOCOMMIT

EXTENSION_KEY: Final = "service_kit.db"
_SESSION: Final = "db_session"
_COMMIT_SENT: Final = "db_commit_sent"
_RERUN: Final = "db_request_rerun"
_WRITING: Final = "service_kit.writing"  # in Session.info: this transaction will send a COMMIT

logger = logging.getLogger(__name__)

T = TypeVar("T")


def init_database(app: Flask, database: Database) -> None:
    """Attach `database` to `app`, note each COMMIT a request sends, close sessions at teardown."""
    app.extensions[EXTENSION_KEY] = database
    # No `event.contains` guard: it keys on id(target), which a new factory may reuse from a
    # freed one. Two apps on one database only run these idempotent listeners twice.
    for name, listener in _SESSION_LISTENERS.items():
        event.listen(database.session_factory, name, listener)
    app.teardown_appcontext(_close_session)


def get_database() -> Database:
    """The database of the current app."""
    return cast(Database, current_app.extensions[EXTENSION_KEY])


def get_session() -> Session:
    """The current request's session, opened on first use."""
    session = g.get(_SESSION)
    if session is None:
        session = get_database().session_factory()
        setattr(g, _SESSION, session)
    return cast(Session, session)


def commit_sent() -> bool:
    """Whether the current request has committed, or begun to commit, a transaction (on any
    session of its app's database): a lost connection then leaves the outcome unknown."""
    return bool(g.get(_COMMIT_SENT))


def rerun_on_lost_connection(operation: Callable[[], T]) -> T:
    """Run `operation` (a view, the authentication hook); if its database connection turns out
    dead before this request sent any COMMIT, run it once more on a fresh session. At most one
    rerun per request; any other failure propagates unchanged."""
    try:
        return operation()
    except DBAPIError as exc:
        if not connection_lost(exc) or commit_sent() or g.get(_RERUN):
            raise
        setattr(g, _RERUN, True)
        logger.warning(
            "database connection failed; running the request again",
            extra={"error": failure_summary(exc)},
        )
        _discard_session()
    return operation()


def _note_transaction_start(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Session `after_begin`: a transaction on a non-autocommit connection will send a COMMIT
    when it commits. Ending an autocommit read phase sends none."""
    if connection.get_execution_options().get("isolation_level") != AUTOCOMMIT:
        session.info[_WRITING] = True


def _note_commit(session: Session) -> None:
    """Session `before_commit`: from here on the outcome may be unknown if the connection dies."""
    if session.info.get(_WRITING) and has_app_context():  # not a warm-up or CLI command
        setattr(g, _COMMIT_SENT, True)


def _note_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WRITING, None)


# Session events cost nothing per statement (engine events would, on every execute).
_SESSION_LISTENERS: Final[dict[str, Callable[..., None]]] = {
    "after_begin": _note_transaction_start,
    "before_commit": _note_commit,
    "after_transaction_end": _note_transaction_end,
}


def _discard_session() -> None:
    """Close the request's session (its connection is gone); the next `get_session` opens one."""
    session = g.pop(_SESSION, None)
    if session is not None:
        session.close()


def _close_session(_exc: BaseException | None) -> None:
    _discard_session()
    g.pop(_COMMIT_SENT, None)
    g.pop(_RERUN, None)
