"""Failed logins are throttled per email, known or not, the same way: after N failures in the
window, 429 `too_many_attempts` with `Retry-After` and no look at the password; each lock in a
row lasts twice as long; a success forgets the failures."""

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from identity.config import IdentitySettings
from identity.models import AuditEvent, AuditEventType, Throttle
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.problems import assert_problem
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import AuthActions

LOGIN = "/api/v1/auth/login"
WRONG = "not-the-password-1"


def login(client: FlaskClient, email: str, password: str = WRONG) -> TestResponse:
    return client.post(LOGIN, json={"email": email, "password": password})


def fail_until_locked(client: FlaskClient, email: str, settings: IdentitySettings) -> None:
    for _ in range(settings.login_throttle_max_failures):
        assert_problem(login(client, email), 401, "invalid_credentials")


def comparable(response: TestResponse) -> dict[str, Any]:
    body = dict(response.get_json())
    body.pop("request_id")
    return {
        "status": response.status_code,
        "retry_after": response.headers.get("Retry-After"),
    } | body


def test_a_known_email_is_locked_after_n_failures_and_even_the_right_password_is_refused(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    user = make_user(session)
    fail_until_locked(client, user.email, settings)

    right_password = login(client, user.email, DEFAULT_PASSWORD)

    assert_problem(right_password, 429, "too_many_attempts")
    assert right_password.headers["Retry-After"] == str(settings.login_throttle_lock_seconds)


def test_known_and_unknown_emails_get_the_same_answers_all_the_way_to_the_lock(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    known = make_user(session).email
    unknown = f"nobody-{uuid.uuid4().hex}@example.com"
    attempts = settings.login_throttle_max_failures + 2

    known_answers = [comparable(login(client, known)) for _ in range(attempts)]
    unknown_answers = [comparable(login(client, unknown)) for _ in range(attempts)]

    assert known_answers == unknown_answers
    assert [answer["status"] for answer in known_answers] == [401] * (attempts - 2) + [429] * 2


def test_the_lock_ends_after_retry_after_and_the_next_lock_lasts_twice_as_long(
    client: FlaskClient, session: Session, settings: IdentitySettings, clock: FakeClock
) -> None:
    email = make_user(session).email
    fail_until_locked(client, email, settings)
    clock.advance(seconds=settings.login_throttle_lock_seconds)

    fail_until_locked(client, email, settings)  # answered 401 again: the lock is over
    second_lock = login(client, email)

    assert_problem(second_lock, 429, "too_many_attempts")
    assert second_lock.headers["Retry-After"] == str(2 * settings.login_throttle_lock_seconds)


def test_a_success_forgets_the_failures(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    user = make_user(session)
    almost = settings.login_throttle_max_failures - 1
    for _ in range(almost):
        login(client, user.email)
    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200

    answers = [login(client, user.email).status_code for _ in range(almost)]

    assert answers == [401] * almost
    assert session.scalar(select(Throttle.failures)) == almost


def test_a_login_counts_its_attempt_with_the_account_lookup_and_forgets_it_with_its_audit_event(
    client: FlaskClient, session: Session, connection: Connection
) -> None:
    email = make_user(session).email
    assert login(client, email, DEFAULT_PASSWORD).status_code == 200  # the first signing key
    sent: list[str] = []

    def record(*args: Any) -> None:
        sql = " ".join(args[2].split())
        if not sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO SAVEPOINT")):
            sent.append(sql)

    event.listen(connection, "before_cursor_execute", record)
    try:
        assert login(client, email, DEFAULT_PASSWORD).status_code == 200
    finally:
        event.remove(connection, "before_cursor_execute", record)

    writes = [sql for sql in sent if "FROM signing_keys" not in sql]  # the key ring's read
    assert writes[0].startswith("WITH counted AS (INSERT INTO throttles")
    assert "LEFT OUTER JOIN users ON users.email = " in writes[0]
    assert writes[-1].startswith("WITH alongside_0 AS (DELETE FROM throttles")
    assert "INSERT INTO audit_events" in writes[-1]
    # the account re-read under its lock, the session and its first token, the event
    assert len(writes) == 5
    assert session.scalar(select(Throttle.id)) is None


def test_failures_older_than_the_window_do_not_count(
    client: FlaskClient, session: Session, settings: IdentitySettings, clock: FakeClock
) -> None:
    email = make_user(session).email
    for _ in range(settings.login_throttle_max_failures - 1):
        login(client, email)
    clock.advance(seconds=settings.login_throttle_window_seconds)

    assert login(client, email).status_code == 401


def test_the_throttle_keeps_no_email_and_the_audit_log_notes_the_lock(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    user = make_user(session)
    fail_until_locked(client, user.email, settings)

    [row] = session.scalars(select(Throttle))
    assert user.email not in (row.key_hash, str(row.id))
    assert len(row.key_hash) == 64
    last = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == AuditEventType.LOGIN_FAILED)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert last is not None
    assert last.detail == {
        "reason": "wrong_password",
        "locked_for_seconds": settings.login_throttle_lock_seconds,
    }


def test_emails_are_throttled_as_normalised(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    user = make_user(session)
    fail_until_locked(client, user.email, settings)

    assert_problem(login(client, f"  {user.email.upper()} "), 429, "too_many_attempts")


def test_tokens_prune_forgets_throttles_idle_past_a_window_and_the_longest_lock(
    app: Any, client: FlaskClient, session: Session, settings: IdentitySettings, clock: FakeClock
) -> None:
    login(client, make_user(session).email)
    idle = settings.login_throttle_window_seconds + settings.login_throttle_max_lock_seconds

    clock.advance(seconds=idle - 1)
    kept = app.test_cli_runner().invoke(args=["tokens", "prune"]).output
    clock.advance(seconds=2)
    forgot = app.test_cli_runner().invoke(args=["tokens", "prune"]).output

    assert "forgot 0 throttles;" in kept
    assert "forgot 1 throttles;" in forgot
    assert session.scalars(select(Throttle)).all() == []


def test_wrong_current_passwords_at_a_password_change_count_as_failed_logins_and_are_audited(
    client: FlaskClient, session: Session, settings: IdentitySettings, auth: AuthActions
) -> None:
    user = make_user(session)
    headers = bearer(auth.login(user.email)["access_token"])
    change = {"current_password": WRONG, "new_password": "a brand new password"}
    answers = [
        client.post("/api/v1/users/me/password", json=change, headers=headers).status_code
        for _ in range(settings.login_throttle_max_failures)
    ]

    assert answers == [401] * settings.login_throttle_max_failures
    assert_problem(login(client, user.email, DEFAULT_PASSWORD), 429, "too_many_attempts")
    failed = session.scalars(
        select(AuditEvent).where(AuditEvent.type == AuditEventType.PASSWORD_CHANGE_FAILED)
    ).all()
    assert len(failed) == settings.login_throttle_max_failures
    assert {event.subject_id for event in failed} == {user.public_id}
