"""Integration fixtures: a real, migrated PostgreSQL database; each test rolls back.

The database, connection, session and client fixtures (and the migrations, through
`migrations_app_factory`) come from `service_kit_testing.pytest_plugin`.
"""

import uuid

import pytest
from flask_openapi3.openapi import OpenAPI

from items import create_app
from items.config import ItemsSettings
from service_kit.db import Database
from service_kit_testing import FakeClock
from service_kit_testing.migrations import AppFactory
from tests.conftest import TokenIssuer, make_settings


@pytest.fixture(scope="session")
def database_prefix() -> str:
    return "items_test"


@pytest.fixture(scope="session")
def migrations_app_factory() -> AppFactory:
    return lambda url: create_app(make_settings(database_url=url))


@pytest.fixture
def settings(database_url: str) -> ItemsSettings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(
    settings: ItemsSettings, rollback_database: Database, clock: FakeClock, issuer: TokenIssuer
) -> OpenAPI:
    return create_app(settings, clock=clock, database=rollback_database, keys=issuer)


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def user_headers(issuer: TokenIssuer, user_id: uuid.UUID) -> dict[str, str]:
    return issuer.headers(user_id)


@pytest.fixture
def admin_headers(issuer: TokenIssuer) -> dict[str, str]:
    return issuer.headers(uuid.uuid4(), role="admin")
