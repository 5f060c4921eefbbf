"""identity under real races: refresh rotation and reuse, registrations of one email, and the
numbering of a user's events while several of the user's changes race.

Served over HTTP on a database of this module's own (`service_kit_testing.concurrency`), so
requests overlap on parallel connections, as in production.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
import requests
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from identity import create_app
from identity.models import (
    AccountTokenPurpose,
    OutboxEvent,
    RefreshToken,
    RefreshTokenFamily,
    User,
)
from identity.repositories.account_token_repository import AccountTokenRepository
from identity.security.hashing import Argon2idHasher
from identity.security.tokens import hash_account_token, hash_refresh_token, new_account_token
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import Database
from service_kit.events.contract import CloudEvent
from service_kit_testing import FakeClock
from service_kit_testing.concurrency import (
    PARALLEL,
    Answer,
    all_at_once,
    live_server,
    server_errors,
)
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres

REQUEST_TIMEOUT_SECONDS = 30
GRACE_SECONDS = 10  # the default window
PASSWORD = "correct horse battery"


@dataclass(frozen=True, slots=True)
class Api:
    """The served app, reached over real HTTP connections."""

    base_url: str

    def post(self, path: str, payload: dict[str, Any]) -> Answer:
        with requests.post(
            f"{self.base_url}/api/v1{path}", json=payload, timeout=REQUEST_TIMEOUT_SECONDS
        ) as response:
            return Answer.read(response)

    def new_user(self) -> tuple[str, str]:
        """Register a fresh user: (email, public id)."""
        email = f"conc-{uuid.uuid4().hex[:12]}@example.com"
        registered = self.post("/auth/register", {"email": email, "password": PASSWORD})
        assert registered.status == 201, registered.body
        return email, str(registered.body["id"])

    def login(self, email: str) -> dict[str, Any]:
        login = self.post("/auth/login", {"email": email, "password": PASSWORD})
        assert login.status == 200, login.body
        return login.body

    def new_session(self) -> str:
        """Register a fresh user, log in and return the refresh token of that login."""
        email, _ = self.new_user()
        return str(self.login(email)["refresh_token"])

    def refresh(self, refresh_token: str) -> Answer:
        return self.post("/auth/refresh", {"refresh_token": refresh_token})


@pytest.fixture(scope="module")
def inspection_engine(module_database_url: str) -> Iterator[Engine]:
    """A connection of its own to look at what the served app committed."""
    engine = create_engine(module_database_url)
    yield engine
    engine.dispose()


def _serve(url: str, *, clock: Clock, hasher: Argon2idHasher) -> Iterator[Api]:
    settings = make_settings(
        database_url=url,
        database_pool_size=25,  # every racing request holds its own connection
        database_max_overflow=5,
        refresh_reuse_grace_seconds=GRACE_SECONDS,
        password_hash_concurrency=0,  # these races are about rows, not about the hash bulkhead
    )
    database = Database(
        url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow
    )
    app = create_app(settings, clock=clock, hasher=hasher, database=database)
    with live_server(app, name="identity-live-server") as base_url:
        yield Api(base_url)


@pytest.fixture
def api(module_database_url: str, hasher: Argon2idHasher) -> Iterator[Api]:
    """The app on the system clock."""
    yield from _serve(module_database_url, clock=SYSTEM_CLOCK, hasher=hasher)


@pytest.fixture
def api_on_fake_clock(
    module_database_url: str, clock: FakeClock, hasher: Argon2idHasher
) -> Iterator[Api]:
    """The app on a clock the test moves (past the grace window, without sleeping)."""
    yield from _serve(module_database_url, clock=clock, hasher=hasher)


def _token(session: Session, raw_token: str) -> RefreshToken:
    token = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw_token))
    ).one()
    return token


def _rotated_past_grace_window(api: Api, clock: FakeClock) -> tuple[str, str]:
    """A session rotated once, with the clock moved past the grace window: (old, successor)."""
    old = api.new_session()
    rotated = api.refresh(old)
    assert rotated.status == 200, rotated.body
    clock.advance(seconds=GRACE_SECONDS + 1)
    return old, str(rotated.body["refresh_token"])


def test_concurrent_refresh_gives_every_caller_the_same_successor_when_within_grace_window(
    api: Api,
) -> None:
    presented = api.new_session()

    answers = all_at_once(lambda _: api.refresh(presented))

    assert [answer.status for answer in answers] == [200] * PARALLEL, answers
    successors = {answer.body["refresh_token"] for answer in answers}
    assert len(successors) == 1
    assert presented not in successors


def test_concurrent_refresh_keeps_one_live_token_in_the_family_when_within_grace_window(
    api: Api, inspection_engine: Engine
) -> None:
    presented = api.new_session()

    answers = all_at_once(lambda _: api.refresh(presented))

    assert all(answer.status == 200 for answer in answers), answers
    with Session(inspection_engine) as session:
        token = _token(session, presented)
        children = session.scalars(
            select(RefreshToken).where(RefreshToken.parent_id == token.id)
        ).all()
        live = session.scalars(
            select(RefreshToken).where(
                RefreshToken.family_id == token.family_id, RefreshToken.used_at.is_(None)
            )
        ).all()
        family = session.get_one(RefreshTokenFamily, token.family_id)
    assert len(children) == 1
    assert [row.id for row in live] == [children[0].id]
    assert children[0].token_hash == hash_refresh_token(answers[0].body["refresh_token"])
    assert family.revoked_at is None


def test_concurrent_reuse_is_refused_when_grace_window_has_passed(
    api_on_fake_clock: Api, clock: FakeClock
) -> None:
    old, _ = _rotated_past_grace_window(api_on_fake_clock, clock)

    answers = all_at_once(lambda _: api_on_fake_clock.refresh(old))

    assert [answer.status for answer in answers] == [401] * PARALLEL, answers
    codes = [answer.code for answer in answers]
    assert set(codes) <= {"refresh_token_reused", "invalid_refresh_token"}, codes
    assert "refresh_token_reused" in codes


def test_concurrent_reuse_revokes_the_family_when_grace_window_has_passed(
    api_on_fake_clock: Api, clock: FakeClock, inspection_engine: Engine
) -> None:
    old, _ = _rotated_past_grace_window(api_on_fake_clock, clock)

    answers = all_at_once(lambda _: api_on_fake_clock.refresh(old))

    assert not server_errors(answers), answers
    with Session(inspection_engine) as session:
        family = session.get_one(RefreshTokenFamily, _token(session, old).family_id)
        children = session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.family_id == family.id)
        )
    assert family.revoked_at is not None
    assert family.revoke_reason == "reuse_detected"
    assert children == 2  # the login's token and its one successor: nothing was issued


def test_successor_is_refused_when_concurrent_reuse_revoked_its_family(
    api_on_fake_clock: Api, clock: FakeClock
) -> None:
    old, successor = _rotated_past_grace_window(api_on_fake_clock, clock)
    answers = all_at_once(lambda _: api_on_fake_clock.refresh(old))
    assert not server_errors(answers), answers

    answer = api_on_fake_clock.refresh(successor)

    assert answer.status == 401
    assert answer.code == "invalid_refresh_token"


def _case_variant(email: str, index: int) -> str:
    """The `index`-th spelling of `email` in mixed letter case (distinct for index < 2**len)."""
    local, domain = email.split("@")
    letters = [
        char.upper() if (index >> position) & 1 else char for position, char in enumerate(local)
    ]
    domain = domain.upper() if index % 3 == 0 else domain
    return "".join(letters) + "@" + domain


@pytest.fixture
def race_email() -> str:
    letters = uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    return f"race{letters}@example.com"  # letters only, so every position can change case


def test_concurrent_registration_admits_one_account_when_emails_differ_only_in_case(
    api: Api, race_email: str
) -> None:
    emails = [_case_variant(race_email, index) for index in range(PARALLEL)]
    assert len(set(emails)) == PARALLEL

    answers = all_at_once(
        lambda index: api.post("/auth/register", {"email": emails[index], "password": PASSWORD})
    )

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201] + [409] * (PARALLEL - 1), answers
    assert {answer.code for answer in answers if answer.status == 409} == {"email_taken"}


def test_concurrent_registration_stores_one_row_when_emails_differ_only_in_case(
    api: Api, race_email: str, inspection_engine: Engine
) -> None:
    emails = [_case_variant(race_email, index) for index in range(PARALLEL)]

    answers = all_at_once(
        lambda index: api.post("/auth/register", {"email": emails[index], "password": PASSWORD})
    )

    assert not server_errors(answers), answers
    with Session(inspection_engine) as session:
        rows = session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == race_email)
        )
    assert rows == 1


def _events_about(engine: Engine, subject: str) -> list[CloudEvent]:
    with Session(engine) as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.id)
        )
        return [CloudEvent.from_json(row.envelope) for row in rows]


def test_concurrent_changes_of_one_user_number_its_events_in_commit_order(
    api: Api, inspection_engine: Engine
) -> None:
    email, user_id = api.new_user()
    sessions = [api.login(email) for _ in range(PARALLEL)]

    answers = all_at_once(
        lambda index: api.post("/auth/logout", {"refresh_token": sessions[index]["refresh_token"]})
    )

    assert [answer.status for answer in answers] == [204] * PARALLEL, answers
    sequences = [event.data["sequence"] for event in _events_about(inspection_engine, user_id)]
    assert sequences == list(range(1, PARALLEL + 2))  # registration, then one per logout


def test_refreshes_and_revocations_of_one_user_racing_never_fail_with_a_server_error(
    api: Api, inspection_engine: Engine
) -> None:
    email, user_id = api.new_user()
    sessions = [api.login(email) for _ in range(PARALLEL)]
    # Rotated once: presenting the parent again (within the grace window) locks a token that
    # keeps its successor's copy, which every revocation of the user erases.
    parents = [session["refresh_token"] for session in sessions]
    for parent in parents:
        assert api.refresh(parent).status == 200

    def race(index: int) -> Answer:
        if index % 2:
            return api.refresh(parents[index])
        with requests.post(
            f"{api.base_url}/api/v1/auth/logout-all",
            headers={"Authorization": f"Bearer {sessions[index]['access_token']}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        ) as response:
            return Answer.read(response)

    answers = all_at_once(race)

    assert not server_errors(answers), answers
    sequences = [event.data["sequence"] for event in _events_about(inspection_engine, user_id)]
    assert sequences == list(range(1, len(sequences) + 1))


@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_a_burst_of_wrong_logins_gets_no_more_guesses_than_the_throttle_allows(
    api: Api, known: bool
) -> None:
    email = api.new_user()[0] if known else f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    max_failures = make_settings().login_throttle_max_failures

    answers = all_at_once(
        lambda _: api.post("/auth/login", {"email": email, "password": "wrong guess 1"})
    )

    assert server_errors(answers) == []
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [401] * max_failures + [429] * (PARALLEL - max_failures)


def _mailed_token(engine: Engine, email: str, purpose: AccountTokenPurpose) -> str:
    """A live token as the mail worker makes one (only its hash stored), for `email`'s user."""
    raw = new_account_token()
    with Session(engine) as session, session.begin():
        user = session.scalars(select(User).where(User.email == email)).one()
        AccountTokenRepository(session).issue(
            user.id,
            email,
            purpose,
            token_hash=hash_account_token(raw),
            now=datetime.now(UTC),
            ttl=timedelta(hours=1),
        )
    return raw


@pytest.mark.parametrize(
    ("path", "purpose", "extra"),
    [
        ("/auth/verify-email", AccountTokenPurpose.VERIFY_EMAIL, {}),
        (
            "/auth/password-reset/confirm",
            AccountTokenPurpose.RESET_PASSWORD,
            {"new_password": "another password 99"},
        ),
    ],
)
def test_concurrent_uses_of_one_mailed_token_let_exactly_one_win(
    api: Api,
    inspection_engine: Engine,
    path: str,
    purpose: AccountTokenPurpose,
    extra: dict[str, str],
) -> None:
    email, _ = api.new_user()
    token = _mailed_token(inspection_engine, email, purpose)

    answers = all_at_once(lambda _: api.post(path, {"token": token, **extra}))

    assert server_errors(answers) == []
    assert sorted(answer.status for answer in answers) == [204] + [400] * (len(answers) - 1)


def test_one_totp_code_sent_with_many_mfa_tokens_at_once_finishes_one_login(api: Api) -> None:
    email, _ = api.new_user()
    token = api.login(email)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{api.base_url}/api/v1/users/me/mfa/totp"
    with requests.post(base, headers=auth, timeout=REQUEST_TIMEOUT_SECONDS) as started:
        totp = pyotp.TOTP(started.json()["secret"])
    previous_step = totp.at(time.time() - totp.interval)  # leaves the current step unused
    with requests.post(
        f"{base}/confirm",
        json={"code": previous_step},
        headers=auth,
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as confirmed:
        assert confirmed.status_code == 200, confirmed.text
    challenges = [api.login(email)["mfa_token"] for _ in range(PARALLEL)]
    code = totp.now()

    answers = all_at_once(
        lambda i: api.post("/auth/mfa/verify", {"mfa_token": challenges[i], "code": code})
    )

    assert server_errors(answers) == []
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(200) == 1  # a code is accepted once, whatever races for it
    assert set(statuses) <= {200, 401, 429}
