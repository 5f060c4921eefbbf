"""Password hashing runs inside a bulkhead: beyond its capacity, credential requests are refused
at once with 503 `overloaded` and leave nothing behind, while everything else is served."""

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from identity import wiring
from identity.config import IdentitySettings
from identity.models import RefreshTokenFamily, Throttle, User
from identity.security.hashing import BulkheadHasher
from service_kit_testing.auth import bearer
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user, unique_email
from tests.integration.conftest import AuthActions

PROBLEM = "application/problem+json"


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url, password_hash_concurrency=1)


@pytest.fixture
def app_hasher(app: OpenAPI) -> BulkheadHasher:
    """The app's hasher: create_app puts every hasher, the test's cheap one too, in a bulkhead."""
    with app.app_context():
        hasher = wiring.components().hasher
    assert isinstance(hasher, BulkheadHasher)
    assert hasher.bulkhead.capacity == 1
    return hasher


@pytest.fixture
def busy_hashing(app_hasher: BulkheadHasher) -> Iterator[None]:
    """Every hashing slot of the app taken, as by a login in flight."""
    with app_hasher.bulkhead.slot():
        yield


def assert_overloaded(response: Any) -> None:
    assert response.status_code == 503
    assert response.mimetype == PROBLEM
    assert response.get_json(force=True)["code"] == "overloaded"
    assert response.headers["Retry-After"] == "1"


def count(session: Session, model: type[User] | type[RefreshTokenFamily]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_login_answers_503_overloaded_and_starts_no_session_when_hashing_is_busy(
    client: FlaskClient, session: Session, busy_hashing: None
) -> None:
    user = make_user(session)

    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert_overloaded(response)
    assert count(session, RefreshTokenFamily) == 0


def test_login_of_unknown_email_answers_503_overloaded_when_hashing_is_busy(
    client: FlaskClient, busy_hashing: None
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": DEFAULT_PASSWORD}
    )

    assert_overloaded(response)


def test_register_answers_503_overloaded_and_creates_no_user_when_hashing_is_busy(
    client: FlaskClient, session: Session, busy_hashing: None
) -> None:
    response = client.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": DEFAULT_PASSWORD}
    )

    assert_overloaded(response)
    assert count(session, User) == 0


def test_password_change_answers_503_overloaded_when_hashing_is_busy(
    client: FlaskClient, auth: AuthActions, session: Session, app_hasher: BulkheadHasher
) -> None:
    user = make_user(session)
    tokens = auth.login(user.email)

    with app_hasher.bulkhead.slot():
        response = client.post(
            "/api/v1/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "another long one"},
            headers=bearer(tokens["access_token"]),
        )

    assert_overloaded(response)
    assert auth.login(user.email, DEFAULT_PASSWORD)["access_token"]  # old password still works


def test_reads_and_refreshes_are_served_when_hashing_is_busy(
    client: FlaskClient, auth: AuthActions, session: Session, app_hasher: BulkheadHasher
) -> None:
    tokens = auth.login(make_user(session).email)

    with app_hasher.bulkhead.slot():
        me = client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )

    assert me.status_code == 200
    assert refreshed.status_code == 200


def hashes_observed(operation: str) -> float:
    return (
        REGISTRY.get_sample_value("identity_password_hash_seconds_count", {"operation": operation})
        or 0.0
    )


def test_each_admitted_hash_is_timed_by_operation_and_a_refused_one_is_not(
    client: FlaskClient, session: Session, app_hasher: BulkheadHasher
) -> None:
    user = make_user(session)
    before = {op: hashes_observed(op) for op in ("hash", "verify", "burn")}

    known = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    unknown = client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": DEFAULT_PASSWORD}
    )
    registered = client.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": DEFAULT_PASSWORD}
    )
    with app_hasher.bulkhead.slot():
        refused = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )

    assert (known.status_code, unknown.status_code, registered.status_code) == (200, 401, 201)
    assert_overloaded(refused)
    assert {op: hashes_observed(op) - before[op] for op in before} == {
        "hash": 1,
        "verify": 1,
        "burn": 1,
    }
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'identity_password_hash_seconds_count{operation="verify"}' in metrics


def test_logins_refused_for_hashing_capacity_count_no_attempt(
    client: FlaskClient, session: Session, settings: IdentitySettings, busy_hashing: None
) -> None:
    user = make_user(session)
    credentials = {"email": user.email, "password": DEFAULT_PASSWORD}

    refused = [
        client.post("/api/v1/auth/login", json=credentials)
        for _ in range(settings.login_throttle_max_failures + 1)
    ]

    for response in refused:
        assert_overloaded(response)
    assert session.scalar(select(func.count()).select_from(Throttle)) == 0


def test_password_changes_refused_for_hashing_capacity_count_no_attempt(
    client: FlaskClient,
    auth: AuthActions,
    session: Session,
    settings: IdentitySettings,
    app_hasher: BulkheadHasher,
) -> None:
    user = make_user(session)
    tokens = auth.login(user.email)

    with app_hasher.bulkhead.slot():
        refused = [
            client.post(
                "/api/v1/users/me/password",
                json={"current_password": "a wrong guess", "new_password": "another long one"},
                headers=bearer(tokens["access_token"]),
            )
            for _ in range(settings.login_throttle_max_failures + 1)
        ]

    for response in refused:
        assert_overloaded(response)
    assert session.scalar(select(func.count()).select_from(Throttle)) == 0
    assert auth.login(user.email, DEFAULT_PASSWORD)["access_token"]
