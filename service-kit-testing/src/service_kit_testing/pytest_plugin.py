"""pytest fixtures every service's integration suite shares (`pytest_plugins = [...]`).

A service's conftest provides:
- `database_prefix` (session scope): the prefix of the throwaway database names ("identity_test");
- `migrations_app_factory` (session scope): builds the service's app on a database URL, as
  `flask db` does; migrations run through it;
- `app`: the app under test, built on `rollback_database` (for `client`).

Then `database_url` is a real, migrated PostgreSQL database for the whole run, and `session` /
`session_factory` give each test sessions that join one outer transaction through savepoints:
services commit as usual and the test's rollback undoes everything. `rollback_database` hands
the app those same sessions. `module_database_url` is a migrated database of a module's own.
`otlp_receiver` collects the spans of a test that turns tracing on (an app built with its
`endpoint()`), and turns tracing off again afterwards.
"""

from collections.abc import Callable, Iterator
from functools import partial

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from service_kit import tracing
from service_kit.db import Database
from service_kit_testing.clock import FakeClock
from service_kit_testing.migrations import AppFactory, migrate_to_head
from service_kit_testing.otlp import OtlpReceiver
from service_kit_testing.postgres import (
    REQUIRE_POSTGRES_ENV,
    PostgresServer,
    PostgresUnavailableError,
    postgres_server,
)
from service_kit_testing.rabbitmq import (
    REQUIRE_RABBITMQ_ENV,
    RabbitMQUnavailableError,
    rabbitmq_vhost,
)
from service_kit_testing.required import skip_unless_required


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailableError as exc:
        skip_unless_required(str(exc), variable=REQUIRE_POSTGRES_ENV)


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    """An AMQP URL of a RabbitMQ vhost of this test module's own."""
    try:
        with rabbitmq_vhost() as url:
            yield url
    except RabbitMQUnavailableError as exc:
        skip_unless_required(str(exc), variable=REQUIRE_RABBITMQ_ENV)


@pytest.fixture(scope="session")
def migrate_database(migrations_app_factory: AppFactory) -> Callable[[str], None]:
    """Migrates the empty database at a URL to head, as `flask db upgrade` does."""
    return partial(migrate_to_head, migrations_app_factory)


@pytest.fixture(scope="session")
def database_url(
    pg_server: PostgresServer,
    database_prefix: str,
    migrate_database: Callable[[str], None],
) -> Iterator[str]:
    with pg_server.temporary_database(database_prefix) as url:
        migrate_database(url)
        yield url


@pytest.fixture(scope="module")
def module_database_url(
    pg_server: PostgresServer,
    database_prefix: str,
    migrate_database: Callable[[str], None],
) -> Iterator[str]:
    """A migrated database for one test module, for tests the rollback fixtures cannot serve.

    Those share one connection; races need the app on a pool of its own that really commits.
    """
    with pg_server.temporary_database(f"{database_prefix}_module") as url:
        migrate_database(url)
        yield url


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
def rollback_database(
    database_url: str, session_factory: sessionmaker[Session]
) -> Iterator[Database]:
    """A `Database` for the app under test whose sessions join the test's outer transaction."""
    database = Database(database_url, pool_size=1, max_overflow=1)
    database.session_factory = session_factory
    yield database
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """An OTLP receiver for the test; tracing is off before and after it (it is per process)."""
    tracing.shut_down_tracing()
    with OtlpReceiver() as receiver:
        yield receiver
        tracing.shut_down_tracing()
