"""The embedded default (SQLite): sessions rotate through the unit of work there, where
PostgreSQL writes a rotation in one statement; the login throttle's upsert works there too."""

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from identity import create_app
from identity.models import Base
from service_kit.http.db import get_database
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    app = create_app(make_settings(database_url=f"sqlite:///{tmp_path / 'identity.db'}"))
    with app.app_context():
        Base.metadata.create_all(get_database().engine)
    client = app.test_client()
    registered = client.post(
        "/api/v1/auth/register",
        json={"email": "ada@example.com", "password": PASSWORD, "full_name": "Ada"},
    )
    assert registered.status_code == 201
    return client


def _login(client: FlaskClient) -> str:
    answer = client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 200
    return str(answer.get_json()["refresh_token"])


def test_refresh_rotates_a_chain_of_tokens_on_sqlite(client: FlaskClient) -> None:
    token = _login(client)

    for _ in range(3):
        answer = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert answer.status_code == 200
        token = answer.get_json()["refresh_token"]

    sessions = client.get(
        "/api/v1/auth/sessions",
        headers={"Authorization": f"Bearer {answer.get_json()['access_token']}"},
    )
    assert sessions.status_code == 200
    assert len(sessions.get_json()["data"]) == 1  # one session, however often rotated


def test_refresh_revokes_the_session_when_an_old_token_comes_back_on_sqlite(
    client: FlaskClient,
) -> None:
    first = _login(client)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()
    third = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    ).get_json()

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})

    assert reused.status_code == 401
    assert reused.get_json()["code"] == "refresh_token_reused"
    assert after.status_code == 401


def test_failed_logins_lock_the_email_on_sqlite_and_a_success_before_forgets_them(
    client: FlaskClient,
) -> None:
    def attempt(password: str) -> int:
        body = {"email": "ada@example.com", "password": password}
        return client.post("/api/v1/auth/login", json=body).status_code

    max_failures = make_settings().login_throttle_max_failures
    before = [attempt("wrong password 1") for _ in range(max_failures - 1)]
    _login(client)  # forgets them
    after = [attempt("wrong password 1") for _ in range(max_failures + 1)]

    assert before == [401] * (max_failures - 1)
    assert after == [401] * max_failures + [429]
