"""identity's HTTP API through the Flask test client: status, Content-Type and problem bodies."""

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from identity import create_app
from identity.config import IdentitySettings
from identity.models import Role, User
from service_kit.logging import JsonFormatter
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.openapi import assert_client_ready, parameter, resolve
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import AuthActions

PROBLEM = "application/problem+json"
JSON = "application/json"
MIN_LENGTH = 10  # above the schema's floor of 8, so the configured policy is what refuses 9


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url, password_min_length=MIN_LENGTH)


def problem(response: TestResponse) -> tuple[int, str, str]:
    """What a client checks first on an error: status, media type and the stable code."""
    body = response.get_json(force=True, silent=True) or {}
    return response.status_code, response.mimetype or "", str(body.get("code", ""))


def json_body(response: TestResponse) -> Any:
    return response.get_json(force=True)


@pytest.fixture
def user(session: Session) -> User:
    return make_user(session)


@pytest.fixture
def tokens(auth: AuthActions, user: User) -> dict[str, Any]:
    return auth.login(user.email)


@pytest.fixture
def admin_headers(auth: AuthActions) -> dict[str, str]:
    return auth.new_user_headers(role=Role.ADMIN)


@pytest.fixture
def user_headers(tokens: dict[str, Any]) -> dict[str, str]:
    return bearer(tokens["access_token"])


# --- register -------------------------------------------------------------------------------


def test_register_returns_201_user_when_body_is_valid(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "New.Person@Example.com", "password": "long enough", "full_name": "New"},
    )

    assert (response.status_code, response.mimetype) == (201, JSON)
    assert json_body(response)["email"] == "new.person@example.com"


def test_register_returns_only_public_user_fields_when_user_is_created(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/register", json={"email": "fields@example.com", "password": "long enough"}
    )

    assert set(json_body(response)) == {
        "id",
        "email",
        "email_verified",
        "full_name",
        "role",
        "is_active",
        "created_at",
        "updated_at",
    }


def test_register_returns_409_email_taken_when_email_exists_in_other_case(
    client: FlaskClient, session: Session
) -> None:
    make_user(session, email="dup@example.com")

    response = client.post(
        "/api/v1/auth/register", json={"email": "DUP@example.com", "password": "long enough"}
    )

    assert problem(response) == (409, PROBLEM, "email_taken")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "a@example.com"}, "validation_failed"),
        ({"email": "not-an-email", "password": "long enough"}, "validation_failed"),
        (
            {"email": "a@example.com", "password": "long enough", "role": "admin"},
            "validation_failed",
        ),
        ({"email": "a@example.com", "password": "x" * 129}, "validation_failed"),
        ({"email": "a@example.com", "password": "short"}, "validation_failed"),
        ({"email": "a@example.com", "password": "x" * (MIN_LENGTH - 1)}, "password_policy"),
    ],
    ids=[
        "missing_password",
        "bad_email",
        "unknown_field",
        "password_too_long",
        "password_below_schema_floor",
        "password_below_configured_minimum",
    ],
)
def test_register_returns_422_when_body_is_invalid(
    client: FlaskClient, body: dict[str, Any], code: str
) -> None:
    response = client.post("/api/v1/auth/register", json=body)

    assert problem(response) == (422, PROBLEM, code)


def test_register_lists_field_errors_without_echoing_input_when_body_is_invalid(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "secret-input@nowhere", "password": "long enough"},
    )

    errors = json_body(response)["errors"]
    assert [error["loc"][-1] for error in errors] == ["email"]
    assert "secret-input" not in response.get_data(as_text=True)


def test_register_returns_400_malformed_json_when_body_does_not_parse(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/register", data="{not json", content_type="application/json"
    )

    assert problem(response) == (400, PROBLEM, "malformed_json")


# --- login ----------------------------------------------------------------------------------


def test_login_returns_200_token_pair_when_credentials_are_correct(
    client: FlaskClient, user: User
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert set(json_body(response)) == {"access_token", "refresh_token", "token_type", "expires_in"}


def test_login_forbids_caching_when_tokens_are_returned(client: FlaskClient, user: User) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert response.headers["Cache-Control"] == "no-store"


def test_refresh_forbids_caching_when_tokens_are_returned(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200
    assert response.headers.get_all("Cache-Control") == ["no-store"]


def test_jwks_forbids_caching_when_the_request_is_authenticated(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    response = client.get("/.well-known/jwks.json", headers=bearer(tokens["access_token"]))

    assert response.status_code == 200
    assert response.headers.get_all("Cache-Control") == ["no-store"]


def test_login_returns_401_invalid_credentials_when_password_is_wrong(
    client: FlaskClient, user: User
) -> None:
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope"})

    assert problem(response) == (401, PROBLEM, "invalid_credentials")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _comparable(response: TestResponse) -> tuple[int, dict[str, Any], str | None]:
    body = {
        key: value
        for key, value in json_body(response).items()
        if key not in ("request_id", "instance")
    }
    return response.status_code, body, response.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("case", ["unknown_email", "inactive_user", "deleted_user"])
def test_login_answers_like_a_wrong_password_when_account_cannot_log_in(
    client: FlaskClient, session: Session, clock: FakeClock, case: str
) -> None:
    wrong_password = client.post(
        "/api/v1/auth/login",
        json={"email": make_user(session).email, "password": "not the password"},
    )
    if case == "unknown_email":
        email = "nobody@example.com"
    else:
        account = make_user(session, is_active=case != "inactive_user")
        if case == "deleted_user":
            account.soft_delete(at=clock.now())
            session.flush()
        email = account.email

    response = client.post(
        "/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )

    assert _comparable(response) == _comparable(wrong_password)


# --- refresh --------------------------------------------------------------------------------


def test_refresh_returns_200_new_pair_when_token_is_live(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert json_body(response)["refresh_token"] != tokens["refresh_token"]


def test_refresh_returns_401_invalid_refresh_token_when_token_is_unknown(
    client: FlaskClient,
) -> None:
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})

    assert problem(response) == (401, PROBLEM, "invalid_refresh_token")


def test_refresh_returns_401_refresh_token_reused_when_used_token_returns_after_grace(
    client: FlaskClient, tokens: dict[str, Any], clock: FakeClock, settings: IdentitySettings
) -> None:
    client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert problem(response) == (401, PROBLEM, "refresh_token_reused")


def test_refresh_returns_same_refresh_token_when_retried_within_grace(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    retry = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert json_body(retry)["refresh_token"] == json_body(first)["refresh_token"]


# --- logout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("known", [True, False], ids=["issued_token", "unknown_token"])
def test_logout_returns_204_when_token_is_known_or_unknown(
    client: FlaskClient, tokens: dict[str, Any], known: bool
) -> None:
    token = tokens["refresh_token"] if known else "never-issued"

    response = client.post("/api/v1/auth/logout", json={"refresh_token": token})

    assert (response.status_code, response.get_data()) == (204, b"")


def test_refresh_returns_401_invalid_refresh_token_when_session_was_logged_out(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert problem(response) == (401, PROBLEM, "invalid_refresh_token")


def test_logout_returns_422_when_refresh_token_is_missing(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/logout", json={})

    assert problem(response) == (422, PROBLEM, "validation_failed")


def test_logout_all_returns_204_when_caller_is_authenticated(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/auth/logout-all", headers=user_headers)

    assert response.status_code == 204


def test_refresh_returns_401_invalid_refresh_token_when_caller_logged_out_everywhere(
    client: FlaskClient, auth: AuthActions, user: User, tokens: dict[str, Any]
) -> None:
    other = auth.login(user.email)
    client.post("/api/v1/auth/logout-all", headers=bearer(tokens["access_token"]))

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})

    assert problem(response) == (401, PROBLEM, "invalid_refresh_token")


def test_logout_all_returns_401_invalid_token_when_bearer_is_missing(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/logout-all")

    assert problem(response) == (401, PROBLEM, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- sessions -------------------------------------------------------------------------------


def test_list_sessions_returns_200_marking_current_when_caller_has_two_sessions(
    client: FlaskClient, auth: AuthActions, user: User, tokens: dict[str, Any]
) -> None:
    auth.login(user.email)

    response = client.get("/api/v1/auth/sessions", headers=bearer(tokens["access_token"]))

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert sorted(item["current"] for item in json_body(response)["data"]) == [False, True]


def test_delete_session_returns_204_when_session_is_the_callers(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    listed = json_body(client.get("/api/v1/auth/sessions", headers=user_headers))
    session_id = listed["data"][0]["id"]

    response = client.delete(f"/api/v1/auth/sessions/{session_id}", headers=user_headers)

    assert response.status_code == 204


def test_delete_session_returns_404_when_session_belongs_to_someone_else(
    client: FlaskClient, auth: AuthActions, user_headers: dict[str, str]
) -> None:
    other_headers = auth.new_user_headers()
    other_session = json_body(client.get("/api/v1/auth/sessions", headers=other_headers))["data"][0]

    response = client.delete(f"/api/v1/auth/sessions/{other_session['id']}", headers=user_headers)

    assert problem(response) == (404, PROBLEM, "session_not_found")


def test_delete_session_returns_404_when_session_id_is_unknown(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.delete(f"/api/v1/auth/sessions/{uuid.uuid4()}", headers=user_headers)

    assert problem(response) == (404, PROBLEM, "session_not_found")


# --- users/me -------------------------------------------------------------------------------


def test_get_me_returns_200_own_account_when_token_is_valid(
    client: FlaskClient, user: User, user_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/users/me", headers=user_headers)

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert json_body(response)["id"] == str(user.public_id)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["missing", "garbage", "wrong_scheme"],
)
def test_get_me_returns_401_invalid_token_when_bearer_is_unusable(
    client: FlaskClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/api/v1/users/me", headers=headers)

    assert problem(response) == (401, PROBLEM, "invalid_token")


def test_get_me_returns_401_when_access_token_has_expired(
    client: FlaskClient, user_headers: dict[str, str], clock: FakeClock, settings: IdentitySettings
) -> None:
    clock.advance(seconds=settings.access_token_ttl_seconds + 60)

    response = client.get("/api/v1/users/me", headers=user_headers)

    assert problem(response) == (401, PROBLEM, "invalid_token")


def test_patch_me_returns_200_with_new_full_name_when_name_is_valid(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.patch("/api/v1/users/me", json={"full_name": "Renamed"}, headers=user_headers)

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert json_body(response)["full_name"] == "Renamed"


@pytest.mark.parametrize(
    "body", [{"role": "admin"}, {"full_name": ""}, {"full_name": "x" * 101}], ids=str
)
def test_patch_me_returns_422_when_body_is_invalid(
    client: FlaskClient, user_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.patch("/api/v1/users/me", json=body, headers=user_headers)

    assert problem(response) == (422, PROBLEM, "validation_failed")


def test_delete_me_returns_204_when_login_is_fresh(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.delete("/api/v1/users/me", headers=user_headers)

    assert (response.status_code, response.get_data()) == (204, b"")


def _refreshed_after_reauth_window(
    client: FlaskClient, tokens: dict[str, Any], clock: FakeClock, settings: IdentitySettings
) -> dict[str, str]:
    """A fresh access token from a refresh made after the login fell out of the reauth window."""
    clock.advance(seconds=settings.reauth_max_age_seconds + 1)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json
    return bearer(json_body(refreshed)["access_token"])


def test_delete_me_returns_401_reauthentication_required_when_token_was_refreshed_after_window(
    client: FlaskClient, tokens: dict[str, Any], clock: FakeClock, settings: IdentitySettings
) -> None:
    headers = _refreshed_after_reauth_window(client, tokens, clock, settings)

    response = client.delete("/api/v1/users/me", headers=headers)

    assert problem(response) == (401, PROBLEM, "reauthentication_required")


def test_delete_me_sends_an_rfc9470_challenge_when_reauthentication_is_required(
    client: FlaskClient, tokens: dict[str, Any], clock: FakeClock, settings: IdentitySettings
) -> None:
    headers = _refreshed_after_reauth_window(client, tokens, clock, settings)

    response = client.delete("/api/v1/users/me", headers=headers)

    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A more recent login is required", '
        f'max_age="{settings.reauth_max_age_seconds}"'
    )


def test_delete_me_leaves_the_account_untouched_when_reauthentication_is_required(
    client: FlaskClient, tokens: dict[str, Any], clock: FakeClock, settings: IdentitySettings
) -> None:
    headers = _refreshed_after_reauth_window(client, tokens, clock, settings)

    client.delete("/api/v1/users/me", headers=headers)

    sessions = client.get("/api/v1/auth/sessions", headers=headers)
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    assert [item["current"] for item in json_body(sessions)["data"]] == [True]


def test_delete_me_returns_204_when_the_user_logs_in_again_after_the_window(
    client: FlaskClient,
    auth: AuthActions,
    user: User,
    tokens: dict[str, Any],
    clock: FakeClock,
    settings: IdentitySettings,
) -> None:
    _refreshed_after_reauth_window(client, tokens, clock, settings)
    fresh = auth.login(user.email)

    response = client.delete("/api/v1/users/me", headers=bearer(fresh["access_token"]))

    assert response.status_code == 204


def test_change_password_returns_204_when_current_password_is_right(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a new passphrase"},
        headers=user_headers,
    )

    assert response.status_code == 204


def test_change_password_returns_401_invalid_credentials_when_current_password_is_wrong(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "wrong one", "new_password": "a new passphrase"},
        headers=user_headers,
    )

    assert problem(response) == (401, PROBLEM, "invalid_credentials")


def test_change_password_returns_422_password_policy_when_new_password_is_below_setting(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "x" * (MIN_LENGTH - 1)},
        headers=user_headers,
    )

    assert problem(response) == (422, PROBLEM, "password_policy")


def test_refresh_returns_401_invalid_refresh_token_when_another_session_changed_password(
    client: FlaskClient, auth: AuthActions, user: User, tokens: dict[str, Any]
) -> None:
    other = auth.login(user.email)
    client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a new passphrase"},
        headers=bearer(tokens["access_token"]),
    )

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})

    assert problem(response) == (401, PROBLEM, "invalid_refresh_token")


def test_delete_me_returns_204_when_token_is_valid(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.delete("/api/v1/users/me", headers=user_headers)

    assert response.status_code == 204


def test_login_returns_401_invalid_credentials_when_account_deleted_itself(
    client: FlaskClient, user: User, user_headers: dict[str, str]
) -> None:
    client.delete("/api/v1/users/me", headers=user_headers)

    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert problem(response) == (401, PROBLEM, "invalid_credentials")


def test_get_me_returns_401_invalid_token_when_account_deleted_itself(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    client.delete("/api/v1/users/me", headers=user_headers)

    response = client.get("/api/v1/users/me", headers=user_headers)

    assert problem(response) == (401, PROBLEM, "invalid_token")


# --- admin ----------------------------------------------------------------------------------


def test_list_users_returns_200_page_when_caller_is_admin(
    client: FlaskClient, session: Session, admin_headers: dict[str, str]
) -> None:
    make_user(session)

    response = client.get("/api/v1/users?limit=1", headers=admin_headers)

    body = json_body(response)
    assert (response.status_code, response.mimetype) == (200, JSON)
    assert (len(body["data"]), isinstance(body["next_cursor"], str)) == (1, True)


def test_list_users_returns_every_user_once_when_client_follows_next_cursor(
    client: FlaskClient, session: Session, admin_headers: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:8]
    expected = {str(make_user(session, full_name=f"Paged {marker}").public_id) for _ in range(5)}

    seen: list[str] = []
    url: str | None = f"/api/v1/users?limit=2&q={marker}"
    while url:
        body = json_body(client.get(url, headers=admin_headers))
        seen.extend(item["id"] for item in body["data"])
        cursor = body["next_cursor"]
        url = f"/api/v1/users?limit=2&q={marker}&cursor={cursor}" if cursor else None

    assert (sorted(seen), len(seen)) == (sorted(expected), len(expected))


def test_list_users_returns_403_forbidden_when_caller_is_not_admin(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/users", headers=user_headers)

    assert problem(response) == (403, PROBLEM, "forbidden")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "validation_failed"),
        ("limit=101", "validation_failed"),
        ("limit=ten", "validation_failed"),
        ("cursor=" + "A" * 59, "invalid_cursor"),
        ("cursor=not-issued-by-us", "validation_failed"),
        ("cursor=%21%21", "validation_failed"),
    ],
)
def test_list_users_returns_422_when_limit_or_cursor_is_bad(
    client: FlaskClient, admin_headers: dict[str, str], query: str, code: str
) -> None:
    response = client.get(f"/api/v1/users?{query}", headers=admin_headers)

    assert problem(response) == (422, PROBLEM, code)


def test_get_user_returns_200_when_caller_is_admin(
    client: FlaskClient, user: User, admin_headers: dict[str, str]
) -> None:
    response = client.get(f"/api/v1/users/{user.public_id}", headers=admin_headers)

    assert (response.status_code, json_body(response)["email"]) == (200, user.email)


def test_patch_user_returns_200_with_new_role_when_caller_is_admin(
    client: FlaskClient, user: User, admin_headers: dict[str, str]
) -> None:
    response = client.patch(
        f"/api/v1/users/{user.public_id}", json={"role": "admin"}, headers=admin_headers
    )

    assert (response.status_code, json_body(response)["role"]) == (200, "admin")


@pytest.mark.parametrize("field", ["role", "is_active"])
def test_patch_user_returns_422_when_a_non_nullable_field_is_null(
    client: FlaskClient, user: User, admin_headers: dict[str, str], field: str
) -> None:
    response = client.patch(
        f"/api/v1/users/{user.public_id}", json={field: None}, headers=admin_headers
    )

    assert problem(response) == (422, PROBLEM, "validation_failed")


def test_login_returns_401_invalid_credentials_when_admin_deactivated_the_user(
    client: FlaskClient, user: User, admin_headers: dict[str, str]
) -> None:
    client.patch(
        f"/api/v1/users/{user.public_id}", json={"is_active": False}, headers=admin_headers
    )

    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )

    assert problem(response) == (401, PROBLEM, "invalid_credentials")


def test_delete_user_returns_204_when_caller_is_admin(
    client: FlaskClient, user: User, admin_headers: dict[str, str]
) -> None:
    response = client.delete(f"/api/v1/users/{user.public_id}", headers=admin_headers)

    assert response.status_code == 204


def test_get_user_returns_404_when_user_was_deleted(
    client: FlaskClient, user: User, admin_headers: dict[str, str]
) -> None:
    client.delete(f"/api/v1/users/{user.public_id}", headers=admin_headers)

    response = client.get(f"/api/v1/users/{user.public_id}", headers=admin_headers)

    assert problem(response) == (404, PROBLEM, "user_not_found")


@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("patch", {"role": "admin"}), ("delete", None)]
)
def test_admin_user_endpoint_returns_404_user_not_found_when_id_is_unknown(
    client: FlaskClient, admin_headers: dict[str, str], method: str, body: dict[str, Any] | None
) -> None:
    response = client.open(
        f"/api/v1/users/{uuid.uuid4()}", method=method.upper(), json=body, headers=admin_headers
    )

    assert problem(response) == (404, PROBLEM, "user_not_found")


@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("patch", {"role": "admin"}), ("delete", None)]
)
def test_admin_user_endpoint_returns_403_forbidden_when_caller_is_not_admin(
    client: FlaskClient, user: User, user_headers: dict[str, str], method: str, body: Any
) -> None:
    response = client.open(
        f"/api/v1/users/{user.public_id}", method=method.upper(), json=body, headers=user_headers
    )

    assert problem(response) == (403, PROBLEM, "forbidden")


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/users/{user_id}"])
@pytest.mark.parametrize(
    "actor_change", [{"role": Role.USER}, {"is_active": False}], ids=["demoted", "deactivated"]
)
def test_admin_read_returns_403_forbidden_when_the_admin_lost_the_role_after_the_token_was_issued(
    client: FlaskClient,
    session: Session,
    auth: AuthActions,
    user: User,
    path: str,
    actor_change: dict[str, object],
) -> None:
    admin = make_user(session, role=Role.ADMIN)
    headers = bearer(auth.login(admin.email)["access_token"])  # its role claim says admin
    for field, value in actor_change.items():
        setattr(admin, field, value)
    session.flush()

    response = client.get(path.format(user_id=user.public_id), headers=headers)

    assert problem(response) == (403, PROBLEM, "forbidden")


def test_admin_user_endpoint_returns_422_when_id_is_not_a_uuid(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/users/42", headers=admin_headers)

    assert problem(response) == (422, PROBLEM, "validation_failed")


# --- discovery ------------------------------------------------------------------------------


def test_jwks_returns_200_public_keys_only_when_requested(client: FlaskClient) -> None:
    response = client.get("/.well-known/jwks.json")

    keys = json_body(response)["keys"]
    assert (response.status_code, response.mimetype) == (200, JSON)
    assert keys
    assert all("d" not in key and key["kty"] == "EC" for key in keys)


def test_jwks_sets_public_cache_control_when_requested(
    client: FlaskClient, settings: IdentitySettings
) -> None:
    response = client.get("/.well-known/jwks.json")

    max_age = settings.jwks_max_age_seconds
    assert response.headers["Cache-Control"] == f"public, max-age={max_age}"


def test_jwks_lists_the_signing_kid_when_a_token_was_issued(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]

    response = client.get("/.well-known/jwks.json")

    assert kid in [key["kid"] for key in json_body(response)["keys"]]


def test_authorization_server_metadata_names_the_tokens_issuer_when_requested(
    client: FlaskClient, tokens: dict[str, Any]
) -> None:
    token_issuer = jwt.decode(tokens["access_token"], options={"verify_signature": False})["iss"]

    response = client.get("/.well-known/oauth-authorization-server")

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert json_body(response)["issuer"] == token_issuer


def test_authorization_server_metadata_publishes_only_fields_true_of_this_server_when_requested(
    client: FlaskClient, settings: IdentitySettings
) -> None:
    response = client.get("/.well-known/oauth-authorization-server")

    assert json_body(response) == {
        "issuer": settings.issuer,
        "jwks_uri": f"{settings.issuer.rstrip('/')}/.well-known/jwks.json",
        "response_types_supported": [],
        "grant_types_supported": [],
    }


def test_authorization_server_metadata_jwks_uri_serves_the_jwks_when_fetched(
    client: FlaskClient, settings: IdentitySettings
) -> None:
    jwks_uri = json_body(client.get("/.well-known/oauth-authorization-server"))["jwks_uri"]
    path = jwks_uri.removeprefix(settings.issuer.rstrip("/"))

    response = client.get(path)

    assert (response.status_code, bool(json_body(response)["keys"])) == (200, True)


def test_openid_configuration_returns_404_problem_when_requested(client: FlaskClient) -> None:
    response = client.get("/.well-known/openid-configuration")

    assert problem(response) == (404, PROBLEM, "not_found")


# --- health, docs, metrics ------------------------------------------------------------------


def test_health_live_returns_200_ok_when_process_runs(client: FlaskClient) -> None:
    response = client.get("/health/live")

    assert (response.status_code, response.mimetype, json_body(response)["status"]) == (
        200,
        JSON,
        "ok",
    )


def test_health_ready_returns_200_when_database_answers(client: FlaskClient) -> None:
    response = client.get("/health/ready")

    assert (response.status_code, json_body(response)["checks"]) == (200, {"database": "ok"})


def test_openapi_json_returns_openapi_3_1_when_requested(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert (response.status_code, response.mimetype) == (200, JSON)
    assert json_body(response)["openapi"].startswith("3.1")


def test_openapi_json_is_ready_for_a_client_generator(client: FlaskClient) -> None:
    document = json_body(client.get("/openapi.json"))

    assert_client_ready(document)
    assert {"login", "refresh", "register", "get_me", "list_users"} <= {
        op["operationId"] for item in document["paths"].values() for op in item.values()
    }


def test_openapi_json_declares_bearer_scheme_when_requested(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    schemes = json_body(response)["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["bearerAuth"].items()


def test_openapi_json_lists_every_api_path_when_requested(
    client: FlaskClient, app: OpenAPI
) -> None:
    routes = {
        re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }

    response = client.get("/openapi.json")

    documented = {path for path in json_body(response)["paths"] if path.startswith("/api/v1/")}
    assert documented == routes
    assert documented >= DESIGN_PATHS


def _problem_codes(document: dict[str, Any], path: str, method: str, status: str) -> list[str]:
    response = document["paths"][path][method]["responses"][status]
    return list(response["x-problem-codes"])


def test_openapi_json_declares_reauthentication_required_when_deleting_own_account(
    client: FlaskClient,
) -> None:
    document = json_body(client.get("/openapi.json"))

    codes = _problem_codes(document, "/api/v1/users/me", "delete", "401")

    assert codes == ["invalid_token", "reauthentication_required"]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/users/{user_id}"])
def test_openapi_json_declares_403_forbidden_when_an_admin_reads(
    client: FlaskClient, path: str
) -> None:
    document = json_body(client.get("/openapi.json"))

    assert _problem_codes(document, path, "get", "403") == ["forbidden"]


def test_openapi_json_documents_503_on_every_api_operation_when_requested(
    client: FlaskClient,
) -> None:
    response = client.get("/openapi.json")

    paths = json_body(response)["paths"]
    operations = {
        (method, path): operation
        for path, item in paths.items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    }
    assert {
        key for key, operation in operations.items() if "503" not in operation["responses"]
    } == set()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/auth/refresh",
        "/api/v1/users/me/password",
    ],
)
def test_openapi_json_declares_429_with_retry_after_when_the_gateway_rate_limits_the_operation(
    client: FlaskClient, path: str
) -> None:
    document = json_body(client.get("/openapi.json"))

    response = document["paths"][path]["post"]["responses"]["429"]

    assert "application/problem+json" in response["content"]
    assert resolve(document, response["headers"]["Retry-After"])["required"] is True


def test_openapi_json_declares_invalid_cursor_when_listing_users(client: FlaskClient) -> None:
    document = json_body(client.get("/openapi.json"))

    codes = _problem_codes(document, "/api/v1/users", "get", "422")

    assert codes == ["validation_failed", "invalid_cursor"]


def test_openapi_json_documents_the_cursor_form_the_service_issues_when_listing_users(
    client: FlaskClient, admin_headers: dict[str, str], session: Session
) -> None:
    make_user(session)
    make_user(session)
    cursor = json_body(client.get("/api/v1/users?limit=1", headers=admin_headers))["next_cursor"]

    document = json_body(client.get("/openapi.json"))

    found = parameter(document, "/api/v1/users", "get", "cursor")
    assert re.fullmatch(found["schema"]["pattern"], cursor)


@pytest.mark.parametrize("name", ["cursor", "q"])
def test_openapi_json_documents_no_null_value_when_a_list_parameter_is_optional(
    client: FlaskClient, name: str
) -> None:
    document = json_body(client.get("/openapi.json"))

    found = parameter(document, "/api/v1/users", "get", name)
    assert "null" not in json.dumps(found["schema"])


DESIGN_PATHS = {
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/logout-all",
    "/api/v1/auth/sessions",
    "/api/v1/auth/sessions/{session_id}",
    "/api/v1/users/me",
    "/api/v1/users/me/password",
    "/api/v1/users",
    "/api/v1/users/{user_id}",
}
"""The identity table of DESIGN.md section 3."""


def test_docs_returns_html_without_external_urls_when_requested(client: FlaskClient) -> None:
    response = client.get("/docs")

    html = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (200, "text/html")
    assert "/docs/assets/js/swagger-ui-bundle.js" in html
    assert re.search(r"https?://", html) is None


def test_docs_assets_return_200_when_swagger_bundle_is_requested(client: FlaskClient) -> None:
    response = client.get("/docs/assets/js/swagger-ui-bundle.js")

    assert response.status_code == 200
    response.close()


def _requests_total(client: FlaskClient, route: str, status: int) -> float:
    metrics = client.get("/metrics").get_data(as_text=True)
    labels = f'method="GET",route="{route}",status="{status}"'
    pattern = rf"^http_requests_total\{{{re.escape(labels)}\}} (\S+)$"
    match = re.search(pattern, metrics, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_counts_request_under_route_label_when_route_is_hit(client: FlaskClient) -> None:
    before = _requests_total(client, "/api/v1/users/me", 401)

    client.get("/api/v1/users/me")

    assert _requests_total(client, "/api/v1/users/me", 401) == before + 1


def test_metrics_labels_the_rule_not_the_path_when_route_has_a_parameter(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    missing = uuid.uuid4()
    client.get(f"/api/v1/users/{missing}", headers=admin_headers)

    response = client.get("/metrics")

    text = response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    assert 'route="/api/v1/users/<user_id>"' in text
    assert str(missing) not in text


# --- cross-cutting HTTP behaviour -----------------------------------------------------------


def test_request_id_is_echoed_when_incoming_id_is_safe(client: FlaskClient) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": "edge-1234.abcd:5678"})

    assert response.headers["X-Request-ID"] == "edge-1234.abcd:5678"


@pytest.mark.parametrize(
    "incoming", ["short", "has spaces in it", "x" * 129, "<script>alert(1)</script>"], ids=str
)
def test_request_id_is_replaced_when_incoming_id_is_unsafe(
    client: FlaskClient, incoming: str
) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": incoming})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_problem_body_carries_request_id_when_request_fails(client: FlaskClient) -> None:
    response = client.get("/no/such/path", headers={"X-Request-ID": "trace-abcdef12"})

    assert json_body(response)["request_id"] == "trace-abcdef12"


def test_post_returns_413_problem_when_body_exceeds_one_mib(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        data=b'{"email": "' + b"a" * (1024 * 1024 + 1) + b'"}',
        content_type="application/json",
    )

    assert problem(response) == (413, PROBLEM, "payload_too_large")


def test_request_returns_405_problem_with_allow_when_method_is_wrong(client: FlaskClient) -> None:
    response = client.get("/api/v1/auth/login")

    assert problem(response) == (405, PROBLEM, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_request_returns_404_problem_when_path_is_unknown(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")

    assert problem(response) == (404, PROBLEM, "not_found")


# --- logging --------------------------------------------------------------------------------


@pytest.fixture
def log_output(app: OpenAPI) -> Iterator[io.StringIO]:
    """Everything the app logs, rendered by the app's own JSON formatter."""
    formatter = next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, JsonFormatter)
    )
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    yield buffer
    logging.getLogger().removeHandler(handler)


def test_logs_omit_passwords_tokens_and_emails_when_user_signs_up_logs_in_and_refreshes(
    client: FlaskClient, log_output: io.StringIO
) -> None:
    email, password = "Secretive.Person@example.com", "sup3r-secret-passphrase"
    client.post("/api/v1/auth/register", json={"email": email, "password": password})
    client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-passphrase-1"})
    pair = json_body(client.post("/api/v1/auth/login", json={"email": email, "password": password}))
    rotated = json_body(
        client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    )
    client.get("/api/v1/users/me", headers=bearer(rotated["access_token"]))
    client.post("/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})

    logged = log_output.getvalue()

    assert "login succeeded" in logged  # the capture works, so the absences below mean something
    secrets = [password, "wrong-passphrase-1", email.lower(), email]
    secrets += [pair["access_token"], pair["refresh_token"]]
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    assert [secret for secret in secrets if secret in logged] == []


@pytest.mark.parametrize("path", ["/api/v1//users/me", "/api/v1/users/me//", "/health//live"])
def test_request_answers_404_problem_not_an_html_redirect_when_path_has_double_slashes(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert problem(response) == (404, PROBLEM, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login/",
        "/api/v1/auth/login%2F",
        "/api/v1/auth/register/",
        "/api/v1/auth/refresh/",
        "/api/v1/users/me/password/",
    ],
)
def test_credential_endpoint_answers_404_problem_when_the_path_has_a_trailing_slash(
    client: FlaskClient, auth: AuthActions, user: User, path: str
) -> None:
    headers = bearer(auth.login(user.email)["access_token"])
    body = {"email": user.email, "password": DEFAULT_PASSWORD, "refresh_token": "x" * 43}
    body |= {"current_password": DEFAULT_PASSWORD, "new_password": "a-new-passphrase-1"}

    response = client.post(path, json=body, headers=headers)

    assert problem(response) == (404, PROBLEM, "not_found")


def test_every_route_answers_404_problem_not_a_redirect_when_a_slash_is_appended(
    app: OpenAPI, client: FlaskClient
) -> None:
    answers = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<[^<>]+>", "x", rule.rule) + "/"
        method = min((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"})
        answers[f"{method} {path}"] = problem(client.open(path, method=method))

    assert answers == {request: (404, PROBLEM, "not_found") for request in answers}


def test_list_users_answers_401_before_validating_the_query_when_token_is_missing(
    client: FlaskClient,
) -> None:
    response = client.get("/api/v1/users?limit=not-a-number")

    assert problem(response) == (401, PROBLEM, "invalid_token")


def test_list_users_answers_403_before_validating_the_query_when_caller_is_not_admin(
    client: FlaskClient, auth: AuthActions
) -> None:
    response = client.get("/api/v1/users?limit=not-a-number", headers=auth.new_user_headers())

    assert problem(response) == (403, PROBLEM, "forbidden")


def test_health_ready_answers_503_problem_when_the_database_is_unreachable() -> None:
    app = create_app(
        make_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
    )

    response = app.test_client().get("/health/ready")

    assert problem(response) == (503, PROBLEM, "not_ready")
