"""identity after its database connections were cut (a restart, a failover): the first call
after the outage already answers as if nothing happened.

The app runs on a database of this module's own with a real pool; its backends are ended with
`pg_terminate_backend`.
"""

import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI

from identity import create_app
from identity.security.hashing import Argon2idHasher
from service_kit.db import Database
from service_kit_testing import PostgresServer
from service_kit_testing.auth import bearer
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"


@pytest.fixture
def app(module_database_url: str, hasher: Argon2idHasher) -> Iterator[OpenAPI]:
    # make_settings caches no verification key: each authenticated call reads the key table.
    settings = make_settings(database_url=module_database_url)
    database = Database.from_settings(settings)
    yield create_app(settings, hasher=hasher, database=database)
    database.dispose()


def _login_headers(client: FlaskClient) -> dict[str, str]:
    email = f"outage-{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    assert client.post("/api/v1/auth/register", json=credentials).status_code == 201
    login = client.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.json
    assert login.json is not None
    return bearer(login.json["access_token"])


def test_readiness_answers_200_on_the_first_call_when_the_database_connections_were_terminated(
    client: FlaskClient, module_database_url: str, pg_server: PostgresServer
) -> None:
    assert client.get("/health/ready").status_code == 200
    assert pg_server.terminate_connections(module_database_url) >= 1

    response = client.get("/health/ready")

    assert response.status_code == 200


def test_authenticated_call_answers_200_when_its_key_lookup_meets_a_terminated_connection(
    client: FlaskClient, module_database_url: str, pg_server: PostgresServer
) -> None:
    headers = _login_headers(client)
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    assert pg_server.terminate_connections(module_database_url) >= 1

    response = client.get("/api/v1/users/me", headers=headers)

    assert response.status_code == 200
