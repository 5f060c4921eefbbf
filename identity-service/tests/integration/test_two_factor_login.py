"""Two-factor login (TOTP, RFC 6238): enrolment, login's second step, recovery codes, disabling
and an admin's reset. Codes are computed here from the secret, as an authenticator app does."""

from datetime import datetime
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.models import AuditEvent, AuditEventType, RecoveryCode, Role, User
from service_kit_testing import FakeClock
from service_kit_testing.auth import bearer
from service_kit_testing.problems import assert_problem
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import AuthActions

TOTP = "/api/v1/users/me/mfa/totp"
LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/mfa/verify"


def code(secret: str, at: datetime, *, steps_later: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(at) + steps_later)


class Enrolled:
    """A user with two-factor login on: its secret and recovery codes."""

    def __init__(self, client: FlaskClient, session: Session, auth: AuthActions, clock: FakeClock):
        self.user = make_user(session)
        self.client = client
        self.clock = clock
        self.headers = bearer(auth.login(self.user.email)["access_token"])
        started = client.post(TOTP, headers=self.headers)
        assert started.status_code == 201, started.json
        self.secret: str = started.get_json()["secret"]
        self.uri: str = started.get_json()["otpauth_uri"]
        confirmed = client.post(
            f"{TOTP}/confirm", json={"code": code(self.secret, clock.now())}, headers=self.headers
        )
        assert confirmed.status_code == 200, confirmed.json
        self.recovery_codes: list[str] = confirmed.get_json()["recovery_codes"]
        clock.advance(seconds=30)  # the enrolment's code is used; the next step's is fresh

    def login(self, password: str = DEFAULT_PASSWORD) -> Any:
        return self.client.post(LOGIN, json={"email": self.user.email, "password": password})

    def challenge(self) -> str:
        answer = self.login()
        assert answer.status_code == 200, answer.json
        body = answer.get_json()
        assert body["mfa_required"] is True
        return str(body["mfa_token"])

    def now_code(self) -> str:
        return code(self.secret, self.clock.now())


@pytest.fixture
def enrolled(
    client: FlaskClient, session: Session, auth: AuthActions, clock: FakeClock
) -> Enrolled:
    return Enrolled(client, session, auth, clock)


def test_enrolment_gives_an_otpauth_uri_and_ten_recovery_codes_and_keeps_the_secret_encrypted(
    enrolled: Enrolled, session: Session
) -> None:
    assert enrolled.uri.startswith("otpauth://totp/")
    assert f"secret={enrolled.secret}" in enrolled.uri
    assert len(enrolled.recovery_codes) == len(set(enrolled.recovery_codes)) == 10
    session.expire_all()  # what the requests committed, not the factory's copy
    user = session.get(User, enrolled.user.id)
    assert user is not None
    assert user.totp_enabled_at is not None
    assert enrolled.secret not in (user.totp_secret_ciphertext or "")
    stored = session.scalars(select(RecoveryCode.code_hash)).all()
    assert not set(stored) & {c.replace("-", "") for c in enrolled.recovery_codes}
    types = session.scalars(select(AuditEvent.type)).all()
    assert AuditEventType.MFA_ENABLED in types


def test_a_wrong_code_does_not_turn_two_factor_login_on(
    client: FlaskClient, session: Session, auth: AuthActions
) -> None:
    headers = bearer(auth.login(make_user(session).email)["access_token"])
    client.post(TOTP, headers=headers)

    wrong = client.post(f"{TOTP}/confirm", json={"code": "000000"}, headers=headers)

    assert_problem(wrong, 400, "invalid_code")
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    assert session.scalar(select(User.totp_enabled_at).where(User.email != "")) is None


def test_with_two_factor_on_login_answers_a_challenge_that_a_code_finishes(
    enrolled: Enrolled,
) -> None:
    token = enrolled.challenge()

    finished = enrolled.client.post(VERIFY, json={"mfa_token": token, "code": enrolled.now_code()})

    assert finished.status_code == 200
    assert set(finished.get_json()) == {"access_token", "refresh_token", "token_type", "expires_in"}


def test_a_code_is_accepted_once_and_a_mfa_token_is_good_once(enrolled: Enrolled) -> None:
    first, second = enrolled.challenge(), enrolled.challenge()
    now_code = enrolled.now_code()
    assert (
        enrolled.client.post(VERIFY, json={"mfa_token": first, "code": now_code}).status_code == 200
    )

    same_code = enrolled.client.post(VERIFY, json={"mfa_token": second, "code": now_code})
    same_token = enrolled.client.post(
        VERIFY,
        json={
            "mfa_token": first,
            "code": code(enrolled.secret, enrolled.clock.now(), steps_later=1),
        },
    )

    assert_problem(same_code, 401, "invalid_mfa")
    assert_problem(same_token, 401, "invalid_mfa")


def test_five_wrong_codes_void_the_mfa_token(enrolled: Enrolled) -> None:
    token = enrolled.challenge()
    for _ in range(5):
        wrong = enrolled.client.post(VERIFY, json={"mfa_token": token, "code": "000000"})
        assert_problem(wrong, 401, "invalid_mfa")

    right = enrolled.client.post(VERIFY, json={"mfa_token": token, "code": enrolled.now_code()})

    assert_problem(right, 401, "invalid_mfa")


def test_wrong_codes_are_throttled_per_account_across_mfa_tokens(
    enrolled: Enrolled, settings: IdentitySettings
) -> None:
    answers = []
    for _ in range(settings.login_throttle_max_failures + 1):
        token = enrolled.challenge()
        answers.append(
            enrolled.client.post(VERIFY, json={"mfa_token": token, "code": "000000"}).status_code
        )

    assert answers == [401] * settings.login_throttle_max_failures + [429]


def test_the_mfa_token_expires(enrolled: Enrolled) -> None:
    token = enrolled.challenge()
    enrolled.clock.advance(seconds=301)

    late = enrolled.client.post(VERIFY, json={"mfa_token": token, "code": enrolled.now_code()})

    assert_problem(late, 401, "invalid_mfa")


def test_a_recovery_code_finishes_a_login_once(enrolled: Enrolled, session: Session) -> None:
    recovery = enrolled.recovery_codes[0]
    first = enrolled.client.post(
        VERIFY, json={"mfa_token": enrolled.challenge(), "recovery_code": recovery.upper()}
    )
    again = enrolled.client.post(
        VERIFY, json={"mfa_token": enrolled.challenge(), "recovery_code": recovery}
    )

    assert first.status_code == 200
    assert_problem(again, 401, "invalid_mfa")
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == AuditEventType.LOGIN_SUCCEEDED)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.detail["second_factor"] == "recovery_code"


@pytest.mark.parametrize(
    "body",
    [{"mfa_token": "x"}, {"mfa_token": "x", "code": "123456", "recovery_code": "abcde-fghij"}],
    ids=["no factor", "both factors"],
)
def test_verify_takes_exactly_one_factor(client: FlaskClient, body: dict[str, str]) -> None:
    assert client.post(VERIFY, json=body).status_code == 422


def test_disabling_needs_a_recent_login_and_a_code(
    enrolled: Enrolled, settings: IdentitySettings
) -> None:
    enrolled.clock.advance(seconds=settings.reauth_max_age_seconds)
    stale = enrolled.client.post(
        f"{TOTP}/disable", json={"code": enrolled.now_code()}, headers=enrolled.headers
    )
    token = enrolled.challenge()
    fresh = enrolled.client.post(VERIFY, json={"mfa_token": token, "code": enrolled.now_code()})
    headers = bearer(fresh.get_json()["access_token"])
    enrolled.clock.advance(seconds=30)

    wrong = enrolled.client.post(f"{TOTP}/disable", json={"code": "000000"}, headers=headers)
    done = enrolled.client.post(
        f"{TOTP}/disable", json={"code": enrolled.recovery_codes[1]}, headers=headers
    )

    assert_problem(stale, 401, "reauthentication_required")
    assert_problem(wrong, 400, "invalid_code")
    assert done.status_code == 204
    assert "access_token" in enrolled.login().get_json()  # plain login again


def test_an_admin_resets_two_factor_login(
    enrolled: Enrolled, session: Session, auth: AuthActions
) -> None:
    admin = auth.new_user_headers(role=Role.ADMIN)

    reset = enrolled.client.delete(f"/api/v1/users/{enrolled.user.public_id}/mfa", headers=admin)
    not_admin = enrolled.client.delete(
        f"/api/v1/users/{enrolled.user.public_id}/mfa", headers=enrolled.headers
    )

    assert reset.status_code == 204
    assert_problem(not_admin, 403, "forbidden")
    assert "access_token" in enrolled.login().get_json()
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.type == AuditEventType.MFA_RESET)
    ).one()
    assert event.detail == {"was_enabled": True}


def test_enrolling_again_while_on_is_a_conflict(enrolled: Enrolled) -> None:
    again = enrolled.client.post(TOTP, headers=enrolled.headers)

    assert_problem(again, 409, "mfa_already_enabled")


def test_wrong_codes_at_login_and_at_disabling_count_against_one_account(
    enrolled: Enrolled, settings: IdentitySettings
) -> None:
    for _ in range(settings.login_throttle_max_failures):
        token = enrolled.challenge()
        enrolled.client.post(VERIFY, json={"mfa_token": token, "code": "000000"})

    disable = enrolled.client.post(
        f"{TOTP}/disable", json={"code": enrolled.now_code()}, headers=enrolled.headers
    )

    assert_problem(disable, 429, "too_many_attempts")
