"""The engine and session factory of one service database (no Flask here)."""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
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
            statement_timeout_ms=statement_timeout_ms,
            pre_ping=pre_ping,
        )
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
            statement_timeout_ms=settings.database_statement_timeout_ms,
            pre_ping=settings.database_pool_pre_ping,
            autocommit_reads=settings.database_autocommit_reads,
        )

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(
    url: str, *, pool_size: int, max_overflow: int, statement_timeout_ms: int, pre_ping: bool
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
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
