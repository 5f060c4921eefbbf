"""The encrypted copy of a successor token, kept for the reuse grace window, dies with its family.

Every path that ends a session erases it at once, not only `tokens prune`: a revoked family
never hands a successor out again, so the copy would only be something to steal.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.errors import RefreshTokenReusedError
from identity.models import RefreshToken, RefreshTokenFamily, Role, User
from identity.schemas.user_schemas import AdminUserUpdate, PasswordChange
from identity.security.tokens import hash_refresh_token
from identity.services.auth_service import AuthService
from identity.services.results import TokenPair
from identity.services.user_service import UserService
from identity.wiring import Components
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.factories import DEFAULT_PASSWORD, make_user
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


def grace_secrets(session: Session, session_id: uuid.UUID) -> int:
    """How many tokens of the session still keep an encrypted successor."""
    session.expire_all()
    stmt = (
        select(func.count())
        .select_from(RefreshToken)
        .join(RefreshTokenFamily, RefreshToken.family_id == RefreshTokenFamily.id)
        .where(
            RefreshTokenFamily.public_id == session_id,
            RefreshToken.successor_ciphertext.isnot(None),
        )
    )
    return session.scalar(stmt) or 0


@dataclass
class RotatedSession:
    """A user with one session rotated once: its first token keeps the successor's copy."""

    session: Session
    auth: AuthService
    users: UserService
    verifier: AccessTokenVerifier
    clock: FakeClock
    settings: IdentitySettings
    user: User
    first: TokenPair
    second: TokenPair
    session_id: uuid.UUID


@pytest.fixture
def rotated(
    session: Session,
    auth_service: AuthService,
    user_service: UserService,
    verifier: AccessTokenVerifier,
    clock: FakeClock,
    settings: IdentitySettings,
) -> RotatedSession:
    user = make_user(session)
    first = login(auth_service, user)
    second = auth_service.rotate_refresh_token(first.refresh_token)
    session_id = verifier.verify(second.access_token).session_id
    assert grace_secrets(session, session_id) == 1  # the premise of every test here
    return RotatedSession(
        session,
        auth_service,
        user_service,
        verifier,
        clock,
        settings,
        user,
        first,
        second,
        session_id,
    )


def _logout(f: RotatedSession) -> None:
    f.auth.revoke_refresh_token(f.second.refresh_token)


def _logout_all(f: RotatedSession) -> None:
    f.auth.revoke_all_sessions(user_id=f.user.public_id)


def _delete_session(f: RotatedSession) -> None:
    f.auth.revoke_session(user_id=f.user.public_id, session_id=f.session_id)


def _reuse_detected(f: RotatedSession) -> None:
    f.clock.advance(seconds=f.settings.refresh_reuse_grace_seconds + 1)
    with pytest.raises(RefreshTokenReusedError):
        f.auth.rotate_refresh_token(f.first.refresh_token)


def _password_changed_elsewhere(f: RotatedSession) -> None:
    elsewhere = login(f.auth, f.user)
    f.users.change_password(
        f.user.public_id,
        PasswordChange(current_password=DEFAULT_PASSWORD, new_password="a brand new passphrase"),
        current_session_id=f.verifier.verify(elsewhere.access_token).session_id,
    )


def _deactivated(f: RotatedSession) -> None:
    admin = make_user(f.session, role=Role.ADMIN)
    f.users.admin_update_user(
        f.user.public_id, AdminUserUpdate(is_active=False), actor_id=admin.public_id
    )


def _deleted_by_admin(f: RotatedSession) -> None:
    admin = make_user(f.session, role=Role.ADMIN)
    f.users.admin_delete_user(f.user.public_id, actor_id=admin.public_id)


def _deleted_by_owner(f: RotatedSession) -> None:
    f.users.delete_own_account(f.user.public_id, auth_time=f.clock.now())


ENDINGS: dict[str, Callable[[RotatedSession], None]] = {
    "logout": _logout,
    "logout_all": _logout_all,
    "session_delete": _delete_session,
    "reuse_detection": _reuse_detected,
    "password_change": _password_changed_elsewhere,
    "deactivation": _deactivated,
    "admin_deletion": _deleted_by_admin,
    "own_deletion": _deleted_by_owner,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_ending_a_session_erases_its_grace_window_secrets_when_the_family_is_revoked(
    rotated: RotatedSession, session: Session, ending: str
) -> None:
    ENDINGS[ending](rotated)

    assert grace_secrets(session, rotated.session_id) == 0


def test_change_password_keeps_the_current_sessions_grace_window_secret_when_it_stays_live(
    rotated: RotatedSession, session: Session, user_service: UserService
) -> None:
    user_service.change_password(
        rotated.user.public_id,
        PasswordChange(current_password=DEFAULT_PASSWORD, new_password="a brand new passphrase"),
        current_session_id=rotated.session_id,
    )

    assert grace_secrets(session, rotated.session_id) == 1


def test_rotation_chain_leaves_only_the_parent_of_the_live_token_keeping_a_successor(
    rotated: RotatedSession,
) -> None:
    third = rotated.auth.rotate_refresh_token(rotated.second.refresh_token)
    rotated.auth.rotate_refresh_token(third.refresh_token)

    keepers = rotated.session.scalars(
        select(RefreshToken.token_hash).where(RefreshToken.successor_ciphertext.isnot(None))
    ).all()
    assert keepers == [hash_refresh_token(third.refresh_token)]


def test_rotation_is_two_locking_reads_and_one_statement_writing_it(
    rotated: RotatedSession, connection: Connection
) -> None:
    sent: list[str] = []

    def record(*args: Any) -> None:
        sql = " ".join(args[2].split())
        savepoint = sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO SAVEPOINT"))
        if not savepoint and "FROM signing_keys" not in sql:  # the key ring's cache fill
            sent.append(sql)

    rotated.clock.advance(seconds=1)  # so that the family's last use changes
    event.listen(connection, "before_cursor_execute", record)
    try:
        rotated.auth.rotate_refresh_token(rotated.second.refresh_token)
    finally:
        event.remove(connection, "before_cursor_execute", record)

    reads = [sql for sql in sent if sql.startswith("SELECT")]
    assert len(reads) == 2
    assert reads[0].endswith("FOR NO KEY UPDATE OF users")
    assert "JOIN refresh_token_families" in reads[1]
    assert reads[1].endswith("FOR UPDATE OF refresh_tokens")
    # then one statement writes the rotation: the parent's kept successor cleared by its key,
    # the token used, the family touched, the successor inserted; nothing scans the family
    assert len(sent) == 3
    write = sent[2]
    assert write.startswith("WITH cleared_parent AS")
    assert "WHERE refresh_tokens.id = " in write
    assert "refresh_tokens.family_id =" not in write
    assert "UPDATE refresh_token_families" in write
    assert "INSERT INTO refresh_tokens" in write


def test_rotation_writes_the_used_token_the_successor_and_the_family_as_the_orm_would(
    rotated: RotatedSession,
) -> None:
    rotated.clock.advance(seconds=5)
    now = rotated.clock.now()

    third = rotated.auth.rotate_refresh_token(rotated.second.refresh_token, user_agent="Agent/2")

    rotated.session.expire_all()
    used = rotated.session.scalars(
        select(RefreshToken).where(
            RefreshToken.token_hash == hash_refresh_token(rotated.second.refresh_token)
        )
    ).one()
    successor = rotated.session.scalars(
        select(RefreshToken).where(
            RefreshToken.token_hash == hash_refresh_token(third.refresh_token)
        )
    ).one()
    family = rotated.session.get(RefreshTokenFamily, used.family_id)
    assert family is not None
    assert (used.used_at, used.updated_at) == (now, now)
    assert used.successor_ciphertext is not None
    assert (successor.parent_id, successor.family_id) == (used.id, used.family_id)
    assert (successor.created_at, successor.used_at) == (now, None)
    assert successor.expires_at == family.expires_at > now
    assert (family.last_used_at, family.user_agent) == (now, "Agent/2")
