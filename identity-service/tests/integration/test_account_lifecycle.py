"""Email verification and password reset end to end in process: the requests queue mails, the
mail worker (MailSender, with a backend that keeps what it is handed) makes the tokens and
sends them, and the links' tokens do what the mails say, once, in time."""

import re
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session

from identity import create_app
from identity.config import IdentitySettings
from identity.mail.backends import MailDeliveryError
from identity.mail.metrics import MailMetrics
from identity.models import (
    AccountToken,
    AuditEvent,
    AuditEventType,
    MailKind,
    OutboundMail,
    OutboxEvent,
    RevokeReason,
)
from identity.repositories.mail_repository import MailOutboxRepository
from identity.security.hashing import Argon2idHasher
from identity.services.mail_sender import MailSender, MailWorker, Outcome
from identity.wiring import Components
from service_kit.db import Database
from service_kit.events.contract import EventType
from service_kit_testing import FakeClock
from service_kit_testing.problems import assert_problem
from tests.factories import DEFAULT_PASSWORD, make_user, unique_email

NEW_PASSWORD = "a brand new password 42"


class Outbox:
    """A mail backend that keeps what it is handed (or fails, when told to)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failing = False

    def send(self, message: EmailMessage) -> None:
        if self.failing:
            raise MailDeliveryError("SMTPServerDisconnected")
        self.sent.append(message)


@pytest.fixture
def mailbox() -> Outbox:
    return Outbox()


@pytest.fixture
def deliver(session: Session, parts: Components, mailbox: Outbox) -> Callable[[], list[Outcome]]:
    """Run the mail worker until nothing is due; what became of each mail."""

    def run() -> list[Outcome]:
        sender = MailSender(
            session,
            backend=mailbox,
            composer=parts.mail_composer,
            policy=parts.mail_policy,
            clock=parts.clock,
        )
        outcomes = []
        while (outcome := sender.send_next()) is not None:
            outcomes.append(outcome)
        return outcomes

    return run


def token_in(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    found = re.search(r"\?token=([A-Za-z0-9_-]+)", text.get_content())
    assert found is not None, text.get_content()
    return found.group(1)


def register(client: FlaskClient, email: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201, response.json
    return response.get_json()  # type: ignore[no-any-return]


def queued(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboundMail)) or 0


def test_registration_mails_a_link_whose_token_verifies_the_email(
    client: FlaskClient, session: Session, deliver: Callable[[], list[Outcome]], mailbox: Outbox
) -> None:
    email = unique_email()
    assert register(client, email)["email_verified"] is False

    assert deliver() == [Outcome.SENT]
    [message] = mailbox.sent
    assert message["To"] == email
    assert message["Subject"] == "Confirm your email address for Example"
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert "verify-email?token=" in html.get_content()
    verified = client.post("/api/v1/auth/verify-email", json={"token": token_in(message)})

    assert verified.status_code == 204
    tokens = client.post(
        "/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    ).get_json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["email_verified"] is True
    me = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.get_json()["email_verified"] is True
    types = session.scalars(select(AuditEvent.type)).all()
    assert AuditEventType.EMAIL_VERIFIED in types


def test_the_outbox_holds_no_token_and_the_database_only_its_hash(
    client: FlaskClient, session: Session, deliver: Callable[[], list[Outcome]], mailbox: Outbox
) -> None:
    register(client, unique_email())
    [row] = session.scalars(select(OutboundMail)).all()
    assert set(vars(row)) & {"token", "link", "payload"} == set()

    deliver()

    raw = token_in(mailbox.sent[0])
    [stored] = session.scalars(select(AccountToken)).all()
    assert raw not in (stored.token_hash, str(stored.id))
    assert queued(session) == 0  # sent: the row is gone


def test_a_verification_token_works_once(
    client: FlaskClient, deliver: Callable[[], list[Outcome]], mailbox: Outbox
) -> None:
    register(client, unique_email())
    deliver()
    token = token_in(mailbox.sent[0])
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 204

    again = client.post("/api/v1/auth/verify-email", json={"token": token})

    assert_problem(again, 400, "invalid_token")


def test_a_verification_token_expires_after_its_ttl(
    client: FlaskClient,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
    clock: FakeClock,
    settings: IdentitySettings,
) -> None:
    register(client, unique_email())
    deliver()
    clock.advance(seconds=settings.email_verification_ttl_seconds)

    late = client.post("/api/v1/auth/verify-email", json={"token": token_in(mailbox.sent[0])})

    assert_problem(late, 400, "invalid_token")


def test_resend_answers_202_for_any_address_and_mails_only_an_unverified_account(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
) -> None:
    unverified = unique_email()
    register(client, unverified)
    deliver()
    verified_user = make_user(session)
    verified_user.email_verified_at = verified_user.created_at
    session.flush()
    answers = [
        client.post("/api/v1/auth/verify-email/resend", json={"email": email}).status_code
        for email in (unverified, verified_user.email, unique_email())
    ]

    assert answers == [202, 202, 202]
    assert queued(session) == 3  # the same work for each address
    assert deliver() == [Outcome.SENT, Outcome.DROPPED, Outcome.DROPPED]
    assert [message["To"] for message in mailbox.sent] == [unverified, unverified]


def test_mails_asked_for_too_often_are_accepted_but_not_queued(
    client: FlaskClient, session: Session, settings: IdentitySettings
) -> None:
    email = unique_email()
    answers = [
        client.post("/api/v1/auth/password-reset", json={"email": email}).status_code
        for _ in range(settings.mail_requests_per_hour + 2)
    ]

    assert answers == [202] * (settings.mail_requests_per_hour + 2)
    assert queued(session) == settings.mail_requests_per_hour


def test_a_password_reset_sets_the_password_verifies_the_email_and_ends_every_session(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
) -> None:
    user = make_user(session)
    before = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    ).get_json()
    assert client.post("/api/v1/auth/password-reset", json={"email": user.email}).status_code == 202
    deliver()
    [message] = mailbox.sent
    assert message["Subject"] == "Reset your Example password"

    reset = client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token_in(message), "new_password": NEW_PASSWORD},
    )

    assert reset.status_code == 204
    old_session = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]}
    )
    assert_problem(old_session, 401, "invalid_refresh_token")
    old_password = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert_problem(old_password, 401, "invalid_credentials")
    new_login = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": NEW_PASSWORD}
    )
    assert new_login.status_code == 200
    claims = jwt.decode(new_login.get_json()["access_token"], options={"verify_signature": False})
    assert claims["email_verified"] is True
    # access tokens already out die at items, through the event
    revoked = session.scalars(
        select(OutboxEvent.envelope).where(OutboxEvent.event_type == EventType.TOKENS_REVOKED)
    ).all()
    assert any(RevokeReason.PASSWORD_RESET.value in envelope for envelope in revoked)
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.type == AuditEventType.PASSWORD_RESET)
    ).one()
    assert event.detail == {"sessions_revoked": 1}


def test_a_newer_reset_request_voids_the_older_link(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
) -> None:
    email = make_user(session).email
    for _ in range(2):
        client.post("/api/v1/auth/password-reset", json={"email": email})
        deliver()
    older, newer = (token_in(message) for message in mailbox.sent)

    refused = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": older, "new_password": NEW_PASSWORD}
    )
    accepted = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": newer, "new_password": NEW_PASSWORD}
    )

    assert_problem(refused, 400, "invalid_token")
    assert accepted.status_code == 204


def test_a_reset_link_expires_and_a_weak_password_leaves_it_usable(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
    clock: FakeClock,
    settings: IdentitySettings,
) -> None:
    email = make_user(session).email
    client.post("/api/v1/auth/password-reset", json={"email": email})
    deliver()
    token = token_in(mailbox.sent[0])

    weak = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    clock.advance(seconds=settings.password_reset_ttl_seconds)
    late = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    assert weak.status_code == 422
    assert_problem(late, 400, "invalid_token")


def test_reset_requests_for_known_and_unknown_addresses_get_the_same_answer_and_work(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
) -> None:
    known = make_user(session).email
    answers = [
        client.post("/api/v1/auth/password-reset", json={"email": email})
        for email in (known, unique_email())
    ]

    assert [(answer.status_code, answer.data) for answer in answers] == [(202, b"")] * 2
    assert queued(session) == 2
    assert deliver() == [Outcome.SENT, Outcome.DROPPED]
    assert [message["To"] for message in mailbox.sent] == [known]


def test_a_reset_request_sends_the_same_statements_for_known_and_unknown_addresses(
    client: FlaskClient, session: Session, connection: Connection
) -> None:
    """The work a request does, statement for statement (the stand-in for its timing: the
    same statements against the same tables, whatever the address)."""
    known = make_user(session).email

    def statements(email: str) -> list[str]:
        sent: list[str] = []

        def record(*args: Any) -> None:
            sent.append(re.sub(r"\s+", " ", args[2]))

        event.listen(connection, "before_cursor_execute", record)
        try:
            assert (
                client.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
            )
        finally:
            event.remove(connection, "before_cursor_execute", record)
        return [sql for sql in sent if not sql.startswith(("SAVEPOINT", "RELEASE"))]

    assert statements(known) == statements(unique_email())


def test_a_failed_send_keeps_no_token_and_is_retried_later_then_given_up(
    client: FlaskClient,
    session: Session,
    deliver: Callable[[], list[Outcome]],
    mailbox: Outbox,
    clock: FakeClock,
    settings: IdentitySettings,
) -> None:
    client.post("/api/v1/auth/password-reset", json={"email": make_user(session).email})
    mailbox.failing = True

    outcomes = []
    for _ in range(settings.mail_max_attempts):
        outcomes += deliver()
        assert deliver() == []  # not due again before its wait is over
        clock.advance(seconds=3600)

    assert outcomes == [Outcome.RETRYING] * (settings.mail_max_attempts - 1) + [Outcome.FAILED]
    assert session.scalar(select(func.count()).select_from(AccountToken)) == 0
    [row] = session.scalars(select(OutboundMail)).all()
    assert row.failed_at is not None
    assert row.last_error == "SMTPServerDisconnected"


def test_with_verified_email_required_login_says_so_only_after_the_right_password(
    settings: IdentitySettings,
    rollback_database: Database,
    session: Session,
    clock: FakeClock,
    hasher: Argon2idHasher,
) -> None:
    strict = create_app(
        settings.model_copy(update={"require_verified_email": True}),
        clock=clock,
        hasher=hasher,
        database=rollback_database,
    ).test_client()
    email = make_user(session).email

    wrong = strict.post("/api/v1/auth/login", json={"email": email, "password": "wrong one 123"})
    right = strict.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})

    assert_problem(wrong, 401, "invalid_credentials")
    assert_problem(right, 403, "email_not_verified")


def test_the_worker_loop_sends_what_is_due_and_reports_it_in_its_metrics(
    committing_database: Database, parts: Components, mailbox: Outbox
) -> None:
    with committing_database.session_factory() as session, session.begin():
        user = make_user(session)
        MailOutboxRepository(session).enqueue(
            MailKind.PASSWORD_RESET, user.email, now=parts.clock.now()
        )
        MailOutboxRepository(session).enqueue(
            MailKind.PASSWORD_RESET, unique_email(), now=parts.clock.now()
        )
    metrics = MailMetrics()
    worker = MailWorker(
        lambda session: MailSender(
            session,
            backend=mailbox,
            composer=parts.mail_composer,
            policy=parts.mail_policy,
            clock=parts.clock,
        ),
        committing_database.session_factory,
        poll_seconds=0.05,
        observer=metrics,
    )
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,))
    running.start()
    try:
        wait_until(lambda: sample(metrics, "identity_mails_total", outcome="dropped") == 1.0)
    finally:
        stop.set()
        running.join(timeout=10)

    assert sample(metrics, "identity_mails_total", outcome="sent") == 1.0
    assert [message["To"] for message in mailbox.sent] == [user.email]
    assert sample(metrics, "identity_mails_due") == 0.0


def sample(metrics: MailMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
