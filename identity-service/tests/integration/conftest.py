"""Integration fixtures: a real, migrated PostgreSQL database; each test rolls back.

The server comes from `TEST_DATABASE_URL` or a throwaway container. With neither, these tests
skip with a reason, unless `REQUIRE_POSTGRES=1`, which makes that a failure.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from identity import create_app
from identity.config import IdentitySettings
from identity.security.hashing import Argon2idHasher
from service_kit.db import Database
from service_kit.testing import FakeClock, PostgresServer
from service_kit.testing.postgres import (
    PostgresUnavailableError,
    postgres_required,
    postgres_server,
)
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailableError as exc:
        if postgres_required():
            pytest.fail(f"REQUIRE_POSTGRES is set but {exc}")
        pytest.skip(str(exc))


def migrate(url: str) -> None:
    """Apply every migration to `url` the way `flask db upgrade` does."""
    app = create_app(make_settings(database_url=url))
    with app.app_context():
        upgrade()
    app.extensions["service_kit.db"].dispose()


@pytest.fixture(scope="session")
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    url = pg_server.create_database("identity_test")
    migrate(url)
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
    # Every session joins the outer transaction through a savepoint: services commit for real
    # as far as they can tell, and the test's rollback undoes it all.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(
    settings: IdentitySettings,
    session_factory: sessionmaker[Session],
    database_url: str,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> Iterator[OpenAPI]:
    database = Database(database_url, pool_size=1, max_overflow=1)
    database.session_factory = session_factory
    app = create_app(settings, clock=clock, hasher=hasher, database=database)
    yield app
    database.dispose()


@pytest.fixture
def client(app: OpenAPI) -> FlaskClient:
    return app.test_client()


@dataclass
class AuthActions:
    """Log users in through the API and build bearer headers."""

    client: FlaskClient
    session: Session

    def login(self, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.json
        body: dict[str, Any] = response.json  # type: ignore[assignment]
        return body

    def new_user_headers(self, **user_fields: Any) -> dict[str, str]:
        user = make_user(self.session, **user_fields)
        tokens = self.login(user.email, user_fields.get("password", DEFAULT_PASSWORD))
        return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def auth(client: FlaskClient, session: Session) -> AuthActions:
    return AuthActions(client, session)
