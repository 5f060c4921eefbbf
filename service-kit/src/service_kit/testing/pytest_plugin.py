"""pytest fixtures every service's integration suite shares (`pytest_plugins = [...]`).

A service's conftest provides two session-scoped fixtures:
- `database_prefix`: the prefix of the throwaway database names (e.g. "identity_test");
- `migrate_database`: a callable that migrates an empty database at the given URL to head.

Then `database_url` is a real, migrated PostgreSQL database for the whole run, and `session` /
`session_factory` give each test sessions that join one outer transaction through savepoints:
services commit as usual and the test's rollback undoes everything.
"""

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from service_kit.db import Database
from service_kit.testing.clock import FakeClock
from service_kit.testing.postgres import (
    PostgresServer,
    PostgresUnavailableError,
    postgres_required,
    postgres_server,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailableError as exc:
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES is set but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def database_url(
    pg_server: PostgresServer,
    database_prefix: str,
    migrate_database: Callable[[str], None],
) -> Iterator[str]:
    url = pg_server.create_database(database_prefix)
    migrate_database(url)
    yield url
    pg_server.drop_database(url)


@pytest.fixture(scope="session")
def engine_database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def connection(engine_database: Database) -> Iterator[Connection]:
    with engine_database.engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
