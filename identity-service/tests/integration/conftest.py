"""Integration fixtures: a real, migrated PostgreSQL database; each test rolls back.

The database, connection, session and client fixtures (and the migrations, through
`migrations_app_factory`) come from `service_kit_testing.pytest_plugin`.

The server comes from `TEST_DATABASE_URL` or a throwaway container. With neither, these tests
skip with a reason, unless `REQUIRE_POSTGRES=1`, which makes that a failure.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.orm import Session

from identity import create_app, wiring
from identity.config import IdentitySettings
from identity.models import User
from identity.security.hashing import Argon2idHasher, PasswordHasher
from identity.services.auth_service import AuthService, MfaPolicy
from identity.services.results import TokenPair
from identity.services.throttle import AttemptThrottle
from identity.wiring import Components
from service_kit.db import Database
from service_kit.http.auth import VERIFIER_KEY
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock, PostgresServer
from service_kit_testing.auth import bearer
from service_kit_testing.migrations import AppFactory
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user


@pytest.fixture(scope="session")
def database_prefix() -> str:
    return "identity_test"


@pytest.fixture(scope="session")
def migrations_app_factory() -> AppFactory:
    return lambda url: create_app(make_settings(database_url=url))


@pytest.fixture
def committing_database(
    pg_server: PostgresServer, database_prefix: str, migrate_database: Callable[[str], None]
) -> Iterator[Database]:
    """A migrated database of the test's own whose sessions really commit (for what the
    rollback fixtures cannot show: transactions as other connections see them, the relay)."""
    with pg_server.temporary_database(f"{database_prefix}_own") as url:
        migrate_database(url)
        database = Database(url, pool_size=4)
        yield database
        database.dispose()


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(
    settings: IdentitySettings,
    rollback_database: Database,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> OpenAPI:
    return create_app(settings, clock=clock, hasher=hasher, database=rollback_database)


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
        return bearer(tokens["access_token"])


@pytest.fixture
def auth(client: FlaskClient, session: Session) -> AuthActions:
    return AuthActions(client, session)


@pytest.fixture
def parts(app: OpenAPI) -> Components:
    """The collaborators `create_app` wired, for building services on the test's session."""
    with app.app_context():
        return wiring.components()


@pytest.fixture
def verifier(app: OpenAPI) -> AccessTokenVerifier:
    return cast(AccessTokenVerifier, app.extensions[VERIFIER_KEY])


def login_throttle(session: Session, parts: Components) -> AttemptThrottle:
    """The login throttle `create_app` wires, on the test's session."""
    return AttemptThrottle(
        session, rule=parts.login_throttle, secret=parts.throttle_secret, clock=parts.clock
    )


def build_auth_service(
    session: Session, parts: Components, *, hasher: PasswordHasher | None = None
) -> AuthService:
    """An AuthService with the collaborators `create_app` wires, on the test's session."""
    return AuthService(
        session,
        throttle=login_throttle(session, parts),
        issuer=parts.issuer,
        box=parts.box,
        hasher=hasher or parts.hasher,
        policy=parts.refresh_policy,
        mfa=MfaPolicy(
            second_factor=parts.second_factor,
            throttle=AttemptThrottle(
                session, rule=parts.totp_throttle, secret=parts.throttle_secret, clock=parts.clock
            ),
        ),
        clock=parts.clock,
    )


@pytest.fixture
def auth_service(session: Session, parts: Components) -> AuthService:
    return build_auth_service(session, parts)


def login(
    service: AuthService,
    user: User,
    *,
    password: str = DEFAULT_PASSWORD,
    user_agent: str | None = None,
) -> TokenPair:
    """Log `user` in through the service, as the login endpoint does (no second factor)."""
    pair = service.authenticate(email=user.email, password=password, user_agent=user_agent)
    assert isinstance(pair, TokenPair)
    return pair
