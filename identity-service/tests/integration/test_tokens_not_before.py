"""The `not_before` rule of `identity.user.tokens_revoked`: a token is void iff `iat <
not_before`. Tokens issued before a revocation are void, tokens issued after it are valid, also
within the same second (the FakeClock places each step inside one second)."""

from datetime import datetime

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.models import OutboxEvent, Role, User
from identity.schemas.user_schemas import AdminUserUpdate
from identity.services.auth_service import AuthService
from identity.services.user_service import UserService
from identity.wiring import Components
from service_kit.events.contract import CloudEvent, EventType
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.factories import make_user
from tests.integration.conftest import login, login_throttle


@pytest.fixture
def user_service(session: Session, parts: Components) -> UserService:
    return UserService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        throttle=login_throttle(session, parts),
        clock=parts.clock,
    )


def latest_not_before(session: Session, user: User) -> datetime:
    """`not_before` of the user's latest tokens_revoked event."""
    stmt = (
        select(OutboxEvent)
        .where(
            OutboxEvent.subject == str(user.public_id),
            OutboxEvent.event_type == EventType.TOKENS_REVOKED.value,
        )
        .order_by(OutboxEvent.id.desc())
        .limit(1)
    )
    event = CloudEvent.from_json(session.scalars(stmt).one().envelope)
    return datetime.fromisoformat(event.data["not_before"])


def is_void(access_token: str, not_before: datetime) -> bool:
    """What every verifier does with a tokens_revoked event."""
    iat = jwt.decode(access_token, options={"verify_signature": False})["iat"]
    return bool(iat < not_before.timestamp())


def test_token_issued_earlier_in_the_same_second_is_void_when_the_user_logs_out_everywhere(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    user = make_user(session)
    clock.advance(seconds=0.2)
    before = login(auth_service, user)
    clock.advance(seconds=0.5)

    auth_service.revoke_all_sessions(user_id=user.public_id)

    assert is_void(before.access_token, latest_not_before(session, user))


def test_login_right_after_logout_all_gets_a_valid_token_when_in_the_same_second(
    session: Session, auth_service: AuthService, clock: FakeClock, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    clock.advance(seconds=0.5)
    auth_service.revoke_all_sessions(user_id=user.public_id)
    clock.advance(seconds=0.1)

    after = login(auth_service, user)

    assert not is_void(after.access_token, latest_not_before(session, user))
    assert verifier.verify(after.access_token).user_id == user.public_id


def test_token_refreshed_before_a_role_change_is_void_when_the_change_comes_in_the_same_second(
    session: Session,
    auth_service: AuthService,
    user_service: UserService,
    clock: FakeClock,
) -> None:
    admin, user = make_user(session, role=Role.ADMIN), make_user(session)
    pair = login(auth_service, user)
    clock.advance(seconds=0.3)
    refreshed = auth_service.rotate_refresh_token(pair.refresh_token)
    clock.advance(seconds=0.3)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=admin.public_id
    )

    assert is_void(refreshed.access_token, latest_not_before(session, user))


def test_refresh_right_after_a_role_change_gets_a_valid_token_with_the_new_role(
    session: Session,
    auth_service: AuthService,
    user_service: UserService,
    clock: FakeClock,
    verifier: AccessTokenVerifier,
) -> None:
    admin, user = make_user(session, role=Role.ADMIN), make_user(session)
    pair = login(auth_service, user)
    clock.advance(seconds=0.3)
    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=admin.public_id
    )
    clock.advance(seconds=0.1)

    refreshed = auth_service.rotate_refresh_token(pair.refresh_token)

    assert not is_void(refreshed.access_token, latest_not_before(session, user))
    assert verifier.verify(refreshed.access_token).role == "admin"


def test_login_between_two_revocations_in_one_second_is_void_when_the_second_one_comes(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    user = make_user(session)
    auth_service.revoke_all_sessions(user_id=user.public_id)
    clock.advance(seconds=0.3)
    between = login(auth_service, user)
    clock.advance(seconds=0.3)

    auth_service.revoke_all_sessions(user_id=user.public_id)

    assert is_void(between.access_token, latest_not_before(session, user))


def test_login_a_second_after_logout_all_is_dated_by_the_clock_when_the_bound_has_passed(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    user = make_user(session)
    auth_service.revoke_all_sessions(user_id=user.public_id)
    clock.advance(seconds=3.4)

    after = login(auth_service, user)

    iat = jwt.decode(after.access_token, options={"verify_signature": False})["iat"]
    assert iat == int(clock.now().timestamp())
