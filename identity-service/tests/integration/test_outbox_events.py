"""Every change others must learn of writes its integration event to the outbox: one test per
use case, checking the type, subject, payload and the user's sequence (DESIGN.md section 8)."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.errors import RefreshTokenReusedError
from identity.models import OutboxEvent, Role, User
from identity.schemas.user_schemas import AdminUserUpdate, PasswordChange, UserCreate, UserUpdate
from identity.services.auth_service import AuthService
from identity.services.key_service import KeyService
from identity.services.user_service import UserService
from identity.wiring import Components
from service_kit.events.contract import SOURCE, CloudEvent, EventType
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.factories import DEFAULT_PASSWORD, make_user, unique_email
from tests.integration.conftest import login, login_throttle

NOT_BEFORE = "2030-01-01T12:00:01Z"
"""The FakeClock starts at 12:00:00 sharp: a revocation then voids tokens before 12:00:01."""


@pytest.fixture
def user_service(session: Session, parts: Components) -> UserService:
    return UserService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        throttle=login_throttle(session, parts),
        clock=parts.clock,
    )


@pytest.fixture
def key_service(session: Session, parts: Components) -> KeyService:
    return KeyService(session, box=parts.box, clock=parts.clock)


def events_about(session: Session, subject: object) -> list[CloudEvent]:
    """The outbox's events whose subject is `subject` (a user id or a kid), oldest first."""
    stmt = select(OutboxEvent).where(OutboxEvent.subject == str(subject)).order_by(OutboxEvent.id)
    return [CloudEvent.from_json(row.envelope) for row in session.scalars(stmt)]


def summary(events: list[CloudEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(event.type.value, event.data) for event in events]


def make_admin(session: Session) -> User:
    return make_user(session, role=Role.ADMIN)


def session_id(verifier: AccessTokenVerifier, access_token: str) -> str:
    return str(verifier.verify(access_token).session_id)


def test_register_user_writes_user_registered_with_sequence_one_when_an_account_is_created(
    session: Session, user_service: UserService
) -> None:
    user = user_service.register_user(
        UserCreate(email=unique_email(), password=DEFAULT_PASSWORD, full_name="Ada")
    )

    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.user.registered",
            {"user_id": str(user.public_id), "sequence": 1, "role": "user", "is_active": True},
        )
    ]


def test_register_user_wraps_the_event_in_a_cloudevents_envelope_when_an_account_is_created(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = user_service.register_user(UserCreate(email=unique_email(), password=DEFAULT_PASSWORD))

    (event,) = events_about(session, user.public_id)
    assert (event.specversion, event.source, event.subject, event.time) == (
        "1.0",
        SOURCE,
        str(user.public_id),
        clock.now(),
    )
    assert event.id.version == 4


def test_update_profile_writes_user_updated_with_the_new_name_when_the_name_changes(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session, full_name="Ada")

    user_service.update_profile(user.public_id, UserUpdate(full_name="Ada Lovelace"))

    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.user.updated",
            {
                "user_id": str(user.public_id),
                "sequence": 1,
                "changes": {"full_name": "Ada Lovelace"},
            },
        )
    ]


def test_update_profile_writes_nothing_when_the_name_is_unchanged(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session, full_name="Ada")

    user_service.update_profile(user.public_id, UserUpdate(full_name="Ada"))

    assert events_about(session, user.public_id) == []


def test_admin_update_user_writes_updated_then_tokens_revoked_when_the_role_changes(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=admin.public_id
    )

    uid = str(user.public_id)
    assert summary(events_about(session, user.public_id)) == [
        ("identity.user.updated", {"user_id": uid, "sequence": 1, "changes": {"role": "admin"}}),
        (
            "identity.user.tokens_revoked",
            {"user_id": uid, "sequence": 2, "not_before": NOT_BEFORE, "reason": "role_changed"},
        ),
    ]


def test_admin_update_user_writes_updated_then_tokens_revoked_when_the_user_is_deactivated(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(is_active=False), actor_id=admin.public_id
    )

    uid = str(user.public_id)
    assert summary(events_about(session, user.public_id)) == [
        ("identity.user.updated", {"user_id": uid, "sequence": 1, "changes": {"is_active": False}}),
        (
            "identity.user.tokens_revoked",
            {"user_id": uid, "sequence": 2, "not_before": NOT_BEFORE, "reason": "deactivated"},
        ),
    ]


def test_admin_update_user_writes_only_updated_when_the_user_is_reactivated(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session, is_active=False)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(is_active=True), actor_id=admin.public_id
    )

    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.user.updated",
            {"user_id": str(user.public_id), "sequence": 1, "changes": {"is_active": True}},
        )
    ]


def test_admin_update_user_writes_a_null_name_when_the_name_is_cleared(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session, full_name="Ada")

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(full_name=None), actor_id=admin.public_id
    )

    (event,) = events_about(session, user.public_id)
    assert event.data["changes"] == {"full_name": None}


def test_admin_update_user_writes_nothing_when_no_field_changes(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session, full_name="Ada")

    user_service.admin_update_user(
        user.public_id,
        AdminUserUpdate(full_name="Ada", role=Role.USER, is_active=True),
        actor_id=admin.public_id,
    )

    assert events_about(session, user.public_id) == []


def test_delete_own_account_writes_tokens_revoked_then_deleted_when_the_user_deletes_it(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = make_user(session)

    user_service.delete_own_account(user.public_id, auth_time=clock.now())

    uid = str(user.public_id)
    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.user.tokens_revoked",
            {"user_id": uid, "sequence": 1, "not_before": NOT_BEFORE, "reason": "account_deleted"},
        ),
        ("identity.user.deleted", {"user_id": uid, "sequence": 2}),
    ]


def test_admin_delete_user_writes_tokens_revoked_then_deleted_when_an_admin_deletes_a_user(
    session: Session, user_service: UserService
) -> None:
    admin, user = make_admin(session), make_user(session)

    user_service.admin_delete_user(user.public_id, actor_id=admin.public_id)

    assert [event.type for event in events_about(session, user.public_id)] == [
        EventType.TOKENS_REVOKED,
        EventType.USER_DELETED,
    ]


def test_revoke_refresh_token_writes_session_revoked_with_the_session_id_when_logging_out(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    pair = login(auth_service, user)

    auth_service.revoke_refresh_token(pair.refresh_token)

    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.session.revoked",
            {
                "user_id": str(user.public_id),
                "sequence": 1,
                "session_ids": [session_id(verifier, pair.access_token)],
                "reason": "logout",
            },
        )
    ]


def test_revoke_refresh_token_writes_nothing_when_the_session_was_already_logged_out(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    pair = login(auth_service, user)
    auth_service.revoke_refresh_token(pair.refresh_token)

    auth_service.revoke_refresh_token(pair.refresh_token)

    assert len(events_about(session, user.public_id)) == 1


def test_revoke_session_writes_session_revoked_when_the_user_deletes_a_session(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    pair = login(auth_service, user)
    sid = verifier.verify(pair.access_token).session_id

    auth_service.revoke_session(user_id=user.public_id, session_id=sid)

    (event,) = events_about(session, user.public_id)
    assert (event.type, event.data["session_ids"], event.data["reason"]) == (
        EventType.SESSION_REVOKED,
        [str(sid)],
        "session_deleted",
    )


def test_rotate_refresh_token_writes_session_revoked_when_reuse_is_detected(
    session: Session,
    auth_service: AuthService,
    settings: IdentitySettings,
    clock: FakeClock,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    first = login(auth_service, user)
    auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)

    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)

    (event,) = events_about(session, user.public_id)
    assert (event.type, event.data["session_ids"], event.data["reason"]) == (
        EventType.SESSION_REVOKED,
        [session_id(verifier, first.access_token)],
        "reuse_detected",
    )


def test_revoke_all_sessions_writes_tokens_revoked_when_the_user_logs_out_everywhere(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    login(auth_service, user)

    auth_service.revoke_all_sessions(user_id=user.public_id)

    assert summary(events_about(session, user.public_id)) == [
        (
            "identity.user.tokens_revoked",
            {
                "user_id": str(user.public_id),
                "sequence": 1,
                "not_before": NOT_BEFORE,
                "reason": "logout_all",
            },
        )
    ]


def test_change_password_writes_session_revoked_for_the_other_sessions_only(
    session: Session,
    auth_service: AuthService,
    user_service: UserService,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    current, other, another = (login(auth_service, user) for _ in range(3))

    user_service.change_password(
        user.public_id,
        PasswordChange(current_password=DEFAULT_PASSWORD, new_password="a new passphrase"),
        current_session_id=verifier.verify(current.access_token).session_id,
    )

    (event,) = events_about(session, user.public_id)
    assert event.type == EventType.SESSION_REVOKED
    assert event.data["reason"] == "password_changed"
    assert sorted(event.data["session_ids"]) == sorted(
        session_id(verifier, pair.access_token) for pair in (other, another)
    )


def test_change_password_writes_nothing_when_the_user_has_no_other_session(
    session: Session,
    auth_service: AuthService,
    user_service: UserService,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    current = login(auth_service, user)

    user_service.change_password(
        user.public_id,
        PasswordChange(current_password=DEFAULT_PASSWORD, new_password="a new passphrase"),
        current_session_id=verifier.verify(current.access_token).session_id,
    )

    assert events_about(session, user.public_id) == []


def test_events_of_a_user_count_up_by_one_when_several_use_cases_follow_each_other(
    session: Session,
    user_service: UserService,
    auth_service: AuthService,
    clock: FakeClock,
) -> None:
    user = user_service.register_user(UserCreate(email=unique_email(), password=DEFAULT_PASSWORD))
    user_service.update_profile(user.public_id, UserUpdate(full_name="Grace"))
    pair = login(auth_service, user)
    auth_service.revoke_refresh_token(pair.refresh_token)
    clock.advance(seconds=5)
    auth_service.revoke_all_sessions(user_id=user.public_id)
    user_service.delete_own_account(user.public_id, auth_time=clock.now() - timedelta(seconds=5))

    events = events_about(session, user.public_id)

    assert [event.data["sequence"] for event in events] == [1, 2, 3, 4, 5, 6]
    assert [event.type for event in events] == [
        EventType.USER_REGISTERED,
        EventType.USER_UPDATED,
        EventType.SESSION_REVOKED,
        EventType.TOKENS_REVOKED,
        EventType.TOKENS_REVOKED,
        EventType.USER_DELETED,
    ]


def test_rotate_signing_key_writes_key_rotated_with_the_new_kid(
    session: Session, key_service: KeyService
) -> None:
    key = key_service.rotate_signing_key()

    assert summary(events_about(session, key.kid)) == [("identity.key.rotated", {"kid": key.kid})]


def test_retire_signing_key_writes_key_retired_with_its_kid(
    session: Session, key_service: KeyService
) -> None:
    old = key_service.rotate_signing_key()
    key_service.rotate_signing_key()

    key_service.retire_signing_key(old.kid)

    assert [event.type for event in events_about(session, old.kid)] == [
        EventType.KEY_ROTATED,
        EventType.KEY_RETIRED,
    ]


def test_retire_all_retiring_keys_writes_key_retired_for_each_key_when_several_are_retiring(
    session: Session, key_service: KeyService
) -> None:
    first, second = key_service.rotate_signing_key(), key_service.rotate_signing_key()
    key_service.rotate_signing_key()

    key_service.retire_all_retiring_keys()

    retired = {
        kid
        for kid in (first.kid, second.kid)
        for event in events_about(session, kid)
        if event.type == EventType.KEY_RETIRED
    }
    assert retired == {first.kid, second.kid}


def test_ensure_active_key_writes_key_rotated_when_a_fresh_database_gets_its_first_key(
    session: Session, key_service: KeyService
) -> None:
    # What a fresh database looks like: no key at all (rolled back with the test).
    for key in key_service.list_signing_keys():
        session.delete(key)
    session.flush()

    key = key_service.ensure_active_key()

    assert [event.type for event in events_about(session, key.kid)] == [EventType.KEY_ROTATED]


def test_user_events_carry_the_users_public_id_as_subject_when_written(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    user_service.update_profile(user.public_id, UserUpdate(full_name="Grace"))

    (event,) = events_about(session, user.public_id)
    assert uuid.UUID(event.subject) == user.public_id == uuid.UUID(event.data["user_id"])
