"""The engine and session factory of one service database (no Flask here).

Lost connections are handled optimistically (no liveness round trip per checkout unless
`pre_ping`): the first statement that meets a dead connection raises a `DBAPIError` whose
`connection_invalidated` is set, and SQLAlchemy then drops every pooled connection older than
that moment, so the next checkout connects afresh. A failure to open a connection is flagged
the same way here, so `connection_lost` covers "the database went away" in all its forms.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from service_kit.config import ServiceSettings


class Database:
    """The engine and session factory of one service database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        pool_timeout_seconds: float = 30,
        connect_timeout_seconds: int = 0,
        statement_timeout_ms: int = 0,
        pre_ping: bool = False,
        autocommit_reads: bool = False,
    ) -> None:
        # pre_ping costs a round trip per checkout; off by default, on where connections are
        # cut behind the pool's back (failovers, aggressive proxies).
        self.engine = _create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout_seconds=pool_timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            statement_timeout_ms=statement_timeout_ms,
            pre_ping=pre_ping,
        )
        event.listen(self.engine, "handle_error", _flag_failed_connect_as_lost)
        bind = self.engine
        if autocommit_reads and self.engine.dialect.name == "postgresql":
            # Reads outside `transaction()` skip BEGIN/ROLLBACK; see service_kit.db.transaction.
            bind = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.session_factory: sessionmaker[Session] = sessionmaker(bind, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "Database":
        return cls(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout_seconds=settings.database_pool_timeout_seconds,
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            statement_timeout_ms=settings.database_statement_timeout_ms,
            pre_ping=settings.database_pool_pre_ping,
            autocommit_reads=settings.database_autocommit_reads,
        )

    def ping(self) -> None:
        """Raise unless the database answers a trivial query. A dead pooled connection (the
        server restarted, a failover) says nothing about the database now: its failure made
        the pool drop the stale connections, so the check runs once more on a fresh one."""
        try:
            self._select_one()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._select_one()

    def _select_one(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` says the connection died (or could not be opened). The pool has then
    dropped its stale connections: a new attempt gets a fresh one."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


STATEMENT_TIMEOUT_SQLSTATE = "57014"  # query_canceled: statement_timeout, or a cancel request


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` is about the database's availability, not about the statement: a lost or
    failed connection, no pooled connection free within the pool timeout, or a statement the
    server cancelled at its statement timeout (an overloaded or locked-up database)."""
    return (
        connection_lost(exc)
        or isinstance(exc, PoolTimeoutError)
        or (
            isinstance(exc, DBAPIError)
            and getattr(exc.orig, "sqlstate", None) == STATEMENT_TIMEOUT_SQLSTATE
        )
    )


def failure_summary(exc: BaseException) -> str:
    """The driver's error class and the first line of its message, for a log line: no SQL
    and no parameters (connection errors carry neither in that line)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _flag_failed_connect_as_lost(context: ExceptionContext) -> None:
    """A failure to connect (refused, server starting or shutting down, too many clients)
    counts as a disconnect, so callers tell it from a faulty statement by one flag."""
    if context.connection is None and not context.is_pre_ping:
        # No connection yet: the flag invalidates nothing, it only marks the raised error.
        context.is_disconnect = True


def _create_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout_seconds: float,
    connect_timeout_seconds: int,
    statement_timeout_ms: int,
    pre_ping: bool,
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    if connect_timeout_seconds:
        # A host that drops packets would otherwise hold the request until gunicorn's timeout.
        connect_args["connect_timeout"] = connect_timeout_seconds
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        hide_parameters=True,  # error messages must not carry hashes, tokens or emails
        connect_args=connect_args,
    )


def _create_sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 15}, hide_parameters=True
    )

    # pysqlite's own transaction handling breaks SAVEPOINT; take it over as SQLAlchemy documents:
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: SQLite has no row locks (FOR UPDATE is a
        # no-op), so two racing writers would otherwise fail with SQLITE_BUSY mid-transaction.
        # The embedded default trades concurrency for that; PostgreSQL locks rows instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
