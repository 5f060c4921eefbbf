"""Integration fixtures: a real, migrated PostgreSQL database; each test rolls back.

The database, connection and session fixtures come from `service_kit.testing.pytest_plugin`.
"""

import uuid
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.orm import Session, sessionmaker

from items import create_app
from items.config import ItemsSettings
from service_kit.db import Database
from service_kit.testing import FakeClock
from tests.conftest import TokenIssuer, make_settings


def migrate(url: str) -> None:
    """Apply every migration to `url` the way `flask db upgrade` does."""
    app = create_app(make_settings(database_url=url))
    with app.app_context():
        upgrade()
    app.extensions["service_kit.db"].dispose()


@pytest.fixture(scope="session")
def database_prefix() -> str:
    return "items_test"


@pytest.fixture(scope="session")
def migrate_database() -> Callable[[str], None]:
    return migrate


@pytest.fixture
def settings(database_url: str) -> ItemsSettings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(
    settings: ItemsSettings,
    session_factory: sessionmaker[Session],
    database_url: str,
    clock: FakeClock,
    issuer: TokenIssuer,
) -> Iterator[OpenAPI]:
    database = Database(database_url, pool_size=1, max_overflow=1)
    database.session_factory = session_factory
    app = create_app(settings, clock=clock, database=database, keys=issuer)
    yield app
    database.dispose()


@pytest.fixture
def client(app: OpenAPI) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def user_headers(issuer: TokenIssuer, user_id: uuid.UUID) -> dict[str, str]:
    return issuer.headers(user_id)


@pytest.fixture
def admin_headers(issuer: TokenIssuer) -> dict[str, str]:
    return issuer.headers(uuid.uuid4(), role="admin")
