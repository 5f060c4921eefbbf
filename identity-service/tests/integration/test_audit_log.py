"""The audit log: what each security event records (and never records), where the request
came from, the admin listing and its pages, the CLI and retention."""

import json
import uuid

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity import create_app
from identity.config import IdentitySettings
from identity.models import AuditEvent, AuditEventType, Role
from identity.security.hashing import Argon2idHasher
from service_kit.db import Database
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.problems import assert_problem
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import AuthActions

AUDIT = "/api/v1/audit-events"
BROWSER = "Mozilla/5.0 (audit test)"


def events(session: Session, type_: AuditEventType | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if type_ is not None:
        stmt = stmt.where(AuditEvent.type == type_)
    return list(session.scalars(stmt))


def row_text(event: AuditEvent) -> str:
    return json.dumps(
        {
            column: str(getattr(event, column))
            for column in ("actor_id", "subject_id", "ip", "user_agent", "request_id")
        }
        | {"detail": event.detail}
    )


def test_login_records_who_logged_in_and_where_the_request_came_from(
    client: FlaskClient, session: Session
) -> None:
    user = make_user(session)

    response = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        headers={"User-Agent": BROWSER, "X-Request-ID": "audit-request-0001"},
    )

    assert response.status_code == 200
    [event] = events(session, AuditEventType.LOGIN_SUCCEEDED)
    assert (event.actor_id, event.subject_id) == (user.public_id, user.public_id)
    assert (event.ip, event.user_agent, event.request_id) == (
        "127.0.0.1",
        BROWSER,
        "audit-request-0001",
    )
    assert set(event.detail) == {"session_id"}


@pytest.mark.parametrize(
    ("known", "reason"), [(False, "unknown_account"), (True, "wrong_password")]
)
def test_failed_login_records_the_reason_and_never_the_submitted_email_or_password(
    client: FlaskClient, session: Session, known: bool, reason: str
) -> None:
    user = make_user(session)
    email = user.email if known else f"nobody-{uuid.uuid4().hex}@example.com"
    typed = "my-secret-Passw0rd-typed"

    response = client.post("/api/v1/auth/login", json={"email": email, "password": typed})

    assert_problem(response, 401, "invalid_credentials")
    [event] = events(session, AuditEventType.LOGIN_FAILED)
    assert event.detail == {"reason": reason}
    assert event.subject_id == (user.public_id if known else None)
    assert event.actor_id is None
    assert email not in row_text(event)
    assert typed not in row_text(event)


def test_failed_login_of_a_disabled_account_records_account_disabled(
    client: FlaskClient, session: Session
) -> None:
    user = make_user(session, is_active=False)

    client.post("/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})

    [event] = events(session, AuditEventType.LOGIN_FAILED)
    assert (event.subject_id, event.detail) == (user.public_id, {"reason": "account_disabled"})


def test_refresh_token_reuse_is_recorded_against_the_account(
    client: FlaskClient, session: Session, auth: AuthActions, clock: FakeClock
) -> None:
    user = make_user(session)
    first = auth.login(user.email)["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 200
    clock.advance(seconds=60)  # past the grace window: a replay is reuse

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first})

    assert_problem(reused, 401, "refresh_token_reused")
    [event] = events(session, AuditEventType.REFRESH_TOKEN_REUSED)
    assert (event.actor_id, event.subject_id) == (None, user.public_id)
    assert first not in row_text(event)


def test_session_events_are_recorded_with_the_user_as_actor_and_subject(
    client: FlaskClient, session: Session, auth: AuthActions
) -> None:
    user = make_user(session)
    tokens = auth.login(user.email)
    headers = bearer(tokens["access_token"])
    second = auth.login(user.email)

    client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a-new-password-1"},
        headers=headers,
    )
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    client.post("/api/v1/auth/logout-all", headers=bearer(second["access_token"]))

    recorded = [
        (event.type, event.actor_id, event.subject_id)
        for event in events(session)
        if event.type
        in (AuditEventType.PASSWORD_CHANGED, AuditEventType.LOGOUT, AuditEventType.LOGOUT_ALL)
    ]
    assert [type_ for type_, _, _ in recorded] == [
        AuditEventType.PASSWORD_CHANGED,
        AuditEventType.LOGOUT,
        AuditEventType.LOGOUT_ALL,
    ]
    assert {(actor, subject) for _, actor, subject in recorded} == {
        (user.public_id, user.public_id)
    }


def test_admin_changes_are_recorded_with_the_admin_as_actor(
    client: FlaskClient, session: Session, auth: AuthActions
) -> None:
    admin = make_user(session, role=Role.ADMIN)
    headers = bearer(auth.login(admin.email)["access_token"])
    user = make_user(session)

    client.patch(
        f"/api/v1/users/{user.public_id}",
        json={"role": "admin", "is_active": False},
        headers=headers,
    )
    client.delete(f"/api/v1/users/{user.public_id}", headers=headers)

    recorded = {
        event.type: (event.actor_id, event.subject_id, event.detail)
        for event in events(session)
        if event.subject_id == user.public_id
    }
    assert recorded == {
        AuditEventType.ROLE_CHANGED: (admin.public_id, user.public_id, {"role": "admin"}),
        AuditEventType.ACTIVE_CHANGED: (admin.public_id, user.public_id, {"is_active": False}),
        AuditEventType.USER_DELETED: (admin.public_id, user.public_id, {}),
    }


def test_no_row_holds_a_password_or_a_token_after_a_whole_session(
    client: FlaskClient, session: Session, auth: AuthActions
) -> None:
    user = make_user(session)
    tokens = auth.login(user.email)
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).get_json()
    client.post("/api/v1/auth/logout", json={"refresh_token": refreshed["refresh_token"]})
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-password-9"})

    secrets = [
        DEFAULT_PASSWORD,
        "wrong-password-9",
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        user.password_hash,
    ]
    rows = " ".join(row_text(event) for event in events(session))
    assert rows  # the flow was recorded
    assert [secret for secret in secrets if secret in rows] == []


def test_audit_listing_answers_403_to_a_user_and_401_without_a_token(
    client: FlaskClient, auth: AuthActions
) -> None:
    assert_problem(client.get(AUDIT, headers=auth.new_user_headers()), 403, "forbidden")
    assert_problem(client.get(AUDIT), 401, "invalid_token")


def test_audit_listing_is_newest_first_filters_by_type_and_user_and_pages(
    client: FlaskClient, session: Session, auth: AuthActions, clock: FakeClock
) -> None:
    admin = make_user(session, role=Role.ADMIN)
    headers = bearer(auth.login(admin.email)["access_token"])
    users = [make_user(session) for _ in range(3)]
    for user in users:
        clock.advance(seconds=1)
        auth.login(user.email)

    logins = client.get(AUDIT, query_string={"type": "login.succeeded"}, headers=headers)
    mine = client.get(AUDIT, query_string={"user": str(users[1].public_id)}, headers=headers)
    first = client.get(AUDIT, query_string={"type": "login.succeeded", "limit": 2}, headers=headers)
    second = client.get(
        AUDIT,
        query_string={
            "type": "login.succeeded",
            "limit": 2,
            "cursor": first.get_json()["next_cursor"],
        },
        headers=headers,
    )

    subjects = [event["subject_id"] for event in logins.get_json()["data"]]
    assert subjects == [str(user.public_id) for user in reversed(users)] + [str(admin.public_id)]
    assert [event["subject_id"] for event in mine.get_json()["data"]] == [str(users[1].public_id)]
    paged = first.get_json()["data"] + second.get_json()["data"]
    assert [event["id"] for event in paged] == [event["id"] for event in logins.get_json()["data"]]
    assert second.get_json()["next_cursor"] is None
    assert set(logins.get_json()["data"][0]) == {
        "id",
        "type",
        "occurred_at",
        "actor_id",
        "subject_id",
        "ip",
        "user_agent",
        "request_id",
        "detail",
    }


def test_audit_listing_answers_422_for_an_unknown_type_or_a_foreign_cursor(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.new_user_headers(role=Role.ADMIN)
    auth.new_user_headers()  # a second user: the users page below has a next cursor
    users_page = client.get("/api/v1/users", query_string={"limit": 1}, headers=headers)
    foreign = users_page.get_json()["next_cursor"]

    unknown_type = client.get(AUDIT, query_string={"type": "nope"}, headers=headers)
    users_cursor = client.get(AUDIT, query_string={"cursor": foreign}, headers=headers)

    assert_problem(unknown_type, 422, "validation_failed")
    assert_problem(users_cursor, 422, "invalid_cursor")


def test_audit_prune_deletes_events_past_the_retention_and_keeps_the_rest(
    app: OpenAPI, session: Session, clock: FakeClock, auth: AuthActions
) -> None:
    old_user, new_user = make_user(session), make_user(session)
    auth.login(old_user.email)  # the first login also creates (and records) the signing key
    old = len(events(session))
    retention = app.extensions["identity.components"].settings.audit_retention_days
    clock.advance(seconds=retention * 86_400 + 1)
    auth.login(new_user.email)

    result = app.test_cli_runner().invoke(args=["audit", "prune"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"deleted {old} audit events"
    assert [event.subject_id for event in events(session)] == [new_user.public_id]


def test_audit_list_command_prints_the_newest_events_as_json_lines(
    app: OpenAPI, session: Session, auth: AuthActions
) -> None:
    user = make_user(session)
    auth.login(user.email)

    result = app.test_cli_runner().invoke(
        args=["audit", "list", "--type", "login.succeeded", "--json"]
    )

    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert json.loads(line)["subject_id"] == str(user.public_id)


def test_key_rotation_is_recorded_by_the_cli(app: OpenAPI, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])

    assert result.exit_code == 0, result.output
    rotated = events(session, AuditEventType.KEY_ROTATED)
    assert rotated[-1].detail["kid"] == result.output.split()[-1]
    assert (rotated[-1].ip, rotated[-1].request_id) == (None, None)  # no request behind a CLI


@pytest.fixture
def behind_gateway(
    settings: IdentitySettings,
    rollback_database: Database,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> FlaskClient:
    """A client of the app as it runs behind the gateway: X-Forwarded-For from one proxy."""
    app = create_app(
        settings.model_copy(update={"trusted_proxy_count": 1}),
        clock=clock,
        hasher=hasher,
        database=rollback_database,
    )
    return app.test_client()


@pytest.mark.parametrize(
    ("forwarded", "kept"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8::1", "2001:db8::1"),  # in its normal form
        ("x" * 60, None),  # no address: not kept, and it breaks nothing
        ("not-an-address", None),
        ("1.2.3.4.5", None),
    ],
)
def test_login_behind_the_gateway_records_the_forwarded_client_address_if_it_is_one(
    behind_gateway: FlaskClient, session: Session, forwarded: str, kept: str | None
) -> None:
    user = make_user(session)

    response = behind_gateway.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": forwarded},
    )

    assert response.status_code == 200
    [event] = events(session, AuditEventType.LOGIN_SUCCEEDED)
    assert event.ip == kept


def test_the_first_signing_key_made_during_a_request_is_recorded_without_its_origin(
    client: FlaskClient, session: Session
) -> None:
    user = make_user(session)

    client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": DEFAULT_PASSWORD},
        headers={"User-Agent": BROWSER},
    )

    [key_event] = events(session, AuditEventType.KEY_ROTATED)
    [login_event] = events(session, AuditEventType.LOGIN_SUCCEEDED)
    assert (key_event.ip, key_event.user_agent, key_event.request_id) == (None, None, None)
    assert login_event.user_agent == BROWSER
