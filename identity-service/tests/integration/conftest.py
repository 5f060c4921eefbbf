"""Integration fixtures: a real, migrated PostgreSQL database; each test rolls back.

The database, connection and session fixtures come from `service_kit.testing.pytest_plugin`.

The server comes from `TEST_DATABASE_URL` or a throwaway container. With neither, these tests
skip with a reason, unless `REQUIRE_POSTGRES=1`, which makes that a failure.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.orm import Session, sessionmaker

from identity import create_app
from identity.config import IdentitySettings
from identity.security.hashing import Argon2idHasher
from service_kit.db import Database
from service_kit.testing import FakeClock
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user


def migrate(url: str) -> None:
    """Apply every migration to `url` the way `flask db upgrade` does."""
    app = create_app(make_settings(database_url=url))
    with app.app_context():
        upgrade()
    app.extensions["service_kit.db"].dispose()


@pytest.fixture(scope="session")
def database_prefix() -> str:
    return "identity_test"


@pytest.fixture(scope="session")
def migrate_database() -> Callable[[str], None]:
    return migrate


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
