"""A session's absolute lifetime: refreshing never carries a family past login + the maximum."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.errors import InvalidRefreshTokenError
from identity.models import RefreshToken, RefreshTokenFamily
from identity.security.tokens import hash_refresh_token
from identity.services.auth_service import AuthService
from identity.services.results import TokenPair
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.conftest import make_settings
from tests.factories import make_user
from tests.integration.conftest import login

DAY = 86_400
TTL_SECONDS = 1 * DAY
MAX_LIFETIME_SECONDS = 2 * DAY


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(
        database_url=database_url,
        refresh_token_ttl_seconds=TTL_SECONDS,
        session_max_lifetime_seconds=MAX_LIFETIME_SECONDS,
    )


def token_expiry(session: Session, raw_token: str) -> datetime:
    session.expire_all()
    stmt = select(RefreshToken.expires_at).where(
        RefreshToken.token_hash == hash_refresh_token(raw_token)
    )
    return session.scalars(stmt).one()


def family_expiry(session: Session, session_id: uuid.UUID) -> datetime:
    session.expire_all()
    stmt = select(RefreshTokenFamily.expires_at).where(RefreshTokenFamily.public_id == session_id)
    return session.scalars(stmt).one()


def refresh_until(
    auth_service: AuthService, clock: FakeClock, pair: TokenPair, *, seconds_after_login: int
) -> TokenPair:
    """Refresh every 0.9 TTL (so no token ever expires) until `seconds_after_login` have passed."""
    elapsed = 0
    step = int(TTL_SECONDS * 0.9)
    while elapsed + step <= seconds_after_login:
        clock.advance(seconds=step)
        elapsed += step
        pair = auth_service.rotate_refresh_token(pair.refresh_token)
    clock.advance(seconds=seconds_after_login - elapsed)
    return auth_service.rotate_refresh_token(pair.refresh_token)


def test_rotate_refresh_token_caps_the_successors_expiry_at_the_max_lifetime_when_near_the_end(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    login_at = clock.now()
    first = login(auth_service, make_user(session))

    last = refresh_until(auth_service, clock, first, seconds_after_login=int(1.5 * DAY))

    assert token_expiry(session, last.refresh_token) == login_at + timedelta(
        seconds=MAX_LIFETIME_SECONDS
    )


def test_rotate_refresh_token_caps_the_familys_expiry_at_the_max_lifetime_when_near_the_end(
    session: Session,
    auth_service: AuthService,
    clock: FakeClock,
    verifier: AccessTokenVerifier,
) -> None:
    login_at = clock.now()
    first = login(auth_service, make_user(session))
    session_id = verifier.verify(first.access_token).session_id

    refresh_until(auth_service, clock, first, seconds_after_login=int(1.5 * DAY))

    assert family_expiry(session, session_id) == login_at + timedelta(seconds=MAX_LIFETIME_SECONDS)


def test_rotate_refresh_token_gives_a_full_ttl_when_the_max_lifetime_is_far(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    clock.advance(seconds=DAY // 2)

    second = auth_service.rotate_refresh_token(first.refresh_token)

    assert token_expiry(session, second.refresh_token) == clock.now() + timedelta(
        seconds=TTL_SECONDS
    )


def test_rotate_refresh_token_raises_invalid_when_the_session_reached_its_max_lifetime(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    last = refresh_until(auth_service, clock, first, seconds_after_login=int(1.8 * DAY))
    clock.advance(seconds=int(0.2 * DAY))  # exactly login + the maximum

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(last.refresh_token)
