"""AuthService on PostgreSQL: login, rotation and reuse detection, logout, sessions, pruning."""

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.config import IdentitySettings
from identity.errors import (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    SessionNotFoundError,
)
from identity.models import RefreshToken, RefreshTokenFamily, User
from identity.security.hashing import Argon2idHasher
from identity.security.tokens import hash_refresh_token
from identity.services.auth_service import AuthService
from identity.wiring import Components
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.conftest import CHEAP_ARGON2
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import build_auth_service, login


class CountingHasher(Argon2idHasher):
    """The real cheap Argon2id hasher, counting every verification it really performs.

    `burn_time` of the real hasher verifies against a dummy hash through `self.verify`, so the
    unknown-account path is counted too, and only if it really spends a verification.
    """

    def __init__(self) -> None:
        super().__init__(**CHEAP_ARGON2)
        self.verifications = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(password_hash, password)


def find_token(session: Session, raw_token: str) -> RefreshToken:
    session.expire_all()
    stmt = select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw_token))
    return session.scalars(stmt).one()


def find_family(session: Session, family_id: uuid.UUID) -> RefreshTokenFamily | None:
    session.expire_all()
    stmt = select(RefreshTokenFamily).where(RefreshTokenFamily.public_id == family_id)
    return session.scalars(stmt).one_or_none()


def test_authenticate_returns_pair_for_the_user_when_credentials_are_correct(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)

    pair = login(auth_service, user)

    assert verifier.verify(pair.access_token).user_id == user.public_id
    assert pair.refresh_token
    assert pair.token_type == "Bearer"


def test_authenticate_reports_access_token_lifetime_from_settings_when_login_succeeds(
    session: Session, auth_service: AuthService, settings: IdentitySettings
) -> None:
    user = make_user(session)

    pair = login(auth_service, user)

    assert pair.expires_in == settings.access_token_ttl_seconds


def test_authenticate_succeeds_when_email_differs_in_case_and_surrounding_space(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session, email="mixed.case@example.com")

    pair = auth_service.authenticate(
        email="  Mixed.CASE@Example.com ", password=DEFAULT_PASSWORD, user_agent=None
    )

    assert verifier.verify(pair.access_token).user_id == user.public_id


def _refusable_login(session: Session, clock: FakeClock, case: str) -> tuple[str, str]:
    """Arrange one kind of refused login; returns the email and password to try."""
    if case == "unknown_email":
        return "nobody-here@example.com", DEFAULT_PASSWORD
    if case == "wrong_password":
        return make_user(session).email, "not the password"
    if case == "inactive_user":
        return make_user(session, is_active=False).email, DEFAULT_PASSWORD
    user = make_user(session)
    user.soft_delete(at=clock.now())
    session.flush()
    return user.email, DEFAULT_PASSWORD


REFUSED_LOGINS = ["unknown_email", "wrong_password", "inactive_user", "deleted_user"]


@pytest.mark.parametrize("case", REFUSED_LOGINS)
def test_authenticate_raises_invalid_credentials_with_one_message_when_login_is_refused(
    session: Session, clock: FakeClock, auth_service: AuthService, case: str
) -> None:
    email, password = _refusable_login(session, clock, case)

    with pytest.raises(InvalidCredentialsError) as raised:
        auth_service.authenticate(email=email, password=password, user_agent=None)

    assert str(raised.value) == InvalidCredentialsError.default_detail


@pytest.mark.parametrize("case", REFUSED_LOGINS)
def test_authenticate_spends_exactly_one_password_verification_when_login_is_refused(
    session: Session, clock: FakeClock, parts: Components, case: str
) -> None:
    email, password = _refusable_login(session, clock, case)
    hasher = CountingHasher()
    service = build_auth_service(session, parts, hasher=hasher)

    with pytest.raises(InvalidCredentialsError):
        service.authenticate(email=email, password=password, user_agent=None)

    assert hasher.verifications == 1


def test_authenticate_rehashes_password_when_hash_parameters_changed(
    session: Session, auth_service: AuthService, parts: Components
) -> None:
    user = make_user(session)
    old_hash = Argon2idHasher(time_cost=2, memory_cost_kib=2048, parallelism=1).hash(
        DEFAULT_PASSWORD
    )
    user.password_hash = old_hash
    session.flush()

    login(auth_service, user)

    session.expire_all()
    stored = session.get_one(User, user.id).password_hash
    assert stored != old_hash
    assert parts.hasher.verify(stored, DEFAULT_PASSWORD)
    assert not parts.hasher.needs_rehash(stored)


def test_authenticate_keeps_hash_when_hash_parameters_are_current(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    old_hash = user.password_hash

    login(auth_service, user)

    session.expire_all()
    assert session.get_one(User, user.id).password_hash == old_hash


def test_authenticate_starts_a_new_session_when_user_logs_in_twice(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    first = login(auth_service, user)

    second = login(auth_service, user)

    assert (
        verifier.verify(second.access_token).session_id
        != verifier.verify(first.access_token).session_id
    )


def test_authenticate_sets_auth_time_to_the_login_time_when_login_succeeds(
    session: Session, auth_service: AuthService, clock: FakeClock, verifier: AccessTokenVerifier
) -> None:
    pair = login(auth_service, make_user(session))

    assert verifier.verify(pair.access_token).auth_time == clock.now()


def test_rotate_refresh_token_keeps_the_login_time_as_auth_time_when_refreshed_later(
    session: Session, auth_service: AuthService, clock: FakeClock, verifier: AccessTokenVerifier
) -> None:
    logged_in_at = clock.now()
    first = login(auth_service, make_user(session))
    clock.advance(seconds=3600)

    second = auth_service.rotate_refresh_token(first.refresh_token)

    assert verifier.verify(second.access_token).auth_time == logged_in_at


def test_rotate_refresh_token_returns_new_refresh_token_when_token_is_live(
    session: Session, auth_service: AuthService
) -> None:
    first = login(auth_service, make_user(session))

    second = auth_service.rotate_refresh_token(first.refresh_token)

    assert second.refresh_token != first.refresh_token


def test_rotate_refresh_token_keeps_the_session_when_token_is_live(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    first = login(auth_service, make_user(session))

    second = auth_service.rotate_refresh_token(first.refresh_token)

    assert (
        verifier.verify(second.access_token).session_id
        == verifier.verify(first.access_token).session_id
    )


def test_rotate_refresh_token_marks_presented_token_used_when_token_is_live(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    clock.advance(seconds=60)

    auth_service.rotate_refresh_token(first.refresh_token)

    assert find_token(session, first.refresh_token).used_at == clock.now()


def test_rotate_refresh_token_returns_same_successor_when_parent_is_replayed_within_grace(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds - 1)

    replayed = auth_service.rotate_refresh_token(first.refresh_token)

    assert replayed.refresh_token == second.refresh_token


def test_rotate_refresh_token_keeps_successor_live_when_parent_was_replayed_within_grace(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=1)
    auth_service.rotate_refresh_token(first.refresh_token)

    third = auth_service.rotate_refresh_token(second.refresh_token)

    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


def test_rotate_refresh_token_raises_reused_when_grandparent_is_replayed_within_grace(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)
    auth_service.rotate_refresh_token(second.refresh_token)
    clock.advance(seconds=1)

    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)


def test_rotate_refresh_token_rejects_live_token_when_grandparent_was_replayed_within_grace(
    session: Session, auth_service: AuthService, clock: FakeClock
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)
    third = auth_service.rotate_refresh_token(second.refresh_token)
    clock.advance(seconds=1)
    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(third.refresh_token)


def test_rotate_refresh_token_raises_reused_when_parent_is_replayed_after_grace(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    first = login(auth_service, make_user(session))
    auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)

    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)


def test_rotate_refresh_token_commits_family_revocation_when_reuse_is_detected(
    session: Session,
    auth_service: AuthService,
    clock: FakeClock,
    settings: IdentitySettings,
    verifier: AccessTokenVerifier,
) -> None:
    first = login(auth_service, make_user(session))
    auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)
    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)

    family = find_family(session, verifier.verify(first.access_token).session_id)

    assert family is not None
    assert (family.revoked_at, family.revoke_reason) == (clock.now(), "reuse_detected")


def test_rotate_refresh_token_rejects_live_successor_when_parent_was_replayed_after_grace(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)
    with pytest.raises(RefreshTokenReusedError):
        auth_service.rotate_refresh_token(first.refresh_token)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(second.refresh_token)


def test_rotate_refresh_token_raises_invalid_when_token_has_expired(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    pair = login(auth_service, make_user(session))
    clock.advance(seconds=settings.refresh_token_ttl_seconds + 1)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(pair.refresh_token)


def test_rotate_refresh_token_raises_invalid_when_token_is_unknown(
    auth_service: AuthService,
) -> None:
    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token("never-issued-token")


def test_rotate_refresh_token_raises_invalid_when_user_was_deactivated(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    pair = login(auth_service, user)
    user.is_active = False
    session.flush()

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(pair.refresh_token)


def test_revoke_refresh_token_ends_the_session_when_token_is_live(
    session: Session, auth_service: AuthService
) -> None:
    pair = login(auth_service, make_user(session))

    auth_service.revoke_refresh_token(pair.refresh_token)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(pair.refresh_token)


def test_revoke_refresh_token_ends_the_session_when_an_older_token_of_the_family_is_given(
    session: Session, auth_service: AuthService
) -> None:
    first = login(auth_service, make_user(session))
    second = auth_service.rotate_refresh_token(first.refresh_token)

    auth_service.revoke_refresh_token(first.refresh_token)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(second.refresh_token)


def test_revoke_refresh_token_leaves_other_sessions_alone_when_token_is_unknown(
    session: Session, auth_service: AuthService
) -> None:
    pair = login(auth_service, make_user(session))

    auth_service.revoke_refresh_token("never-issued-token")

    assert auth_service.rotate_refresh_token(pair.refresh_token).refresh_token


@pytest.mark.parametrize("which", [0, 1])
def test_revoke_all_sessions_ends_every_session_when_user_has_several(
    session: Session, auth_service: AuthService, which: int
) -> None:
    user = make_user(session)
    pairs = [login(auth_service, user), login(auth_service, user)]

    auth_service.revoke_all_sessions(user_id=user.public_id)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(pairs[which].refresh_token)


def test_revoke_all_sessions_keeps_other_users_sessions_when_one_user_logs_out(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    other = login(auth_service, make_user(session))
    login(auth_service, user)

    auth_service.revoke_all_sessions(user_id=user.public_id)

    assert auth_service.rotate_refresh_token(other.refresh_token).refresh_token


def test_list_sessions_marks_only_callers_session_current_when_user_has_two(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    laptop = login(auth_service, user, user_agent="laptop")
    login(auth_service, user, user_agent="phone")

    sessions = auth_service.list_sessions(
        user_id=user.public_id,
        current_session_id=verifier.verify(laptop.access_token).session_id,
    )

    assert {item.user_agent: item.is_current for item in sessions} == {
        "laptop": True,
        "phone": False,
    }


def test_list_sessions_omits_sessions_when_they_were_logged_out(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    kept = login(auth_service, user, user_agent="kept")
    ended = login(auth_service, user, user_agent="ended")
    auth_service.revoke_refresh_token(ended.refresh_token)

    sessions = auth_service.list_sessions(
        user_id=user.public_id, current_session_id=verifier.verify(kept.access_token).session_id
    )

    assert [item.user_agent for item in sessions] == ["kept"]


def test_revoke_session_ends_the_session_when_it_belongs_to_the_user(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    user = make_user(session)
    pair = login(auth_service, user)

    auth_service.revoke_session(
        user_id=user.public_id, session_id=verifier.verify(pair.access_token).session_id
    )

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(pair.refresh_token)


def test_revoke_session_raises_not_found_when_session_belongs_to_someone_else(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    attacker = make_user(session)
    victim = login(auth_service, make_user(session))

    with pytest.raises(SessionNotFoundError):
        auth_service.revoke_session(
            user_id=attacker.public_id,
            session_id=verifier.verify(victim.access_token).session_id,
        )


def test_revoke_session_leaves_session_live_when_someone_else_tries_to_revoke_it(
    session: Session, auth_service: AuthService, verifier: AccessTokenVerifier
) -> None:
    attacker = make_user(session)
    victim = login(auth_service, make_user(session))
    with pytest.raises(SessionNotFoundError):
        auth_service.revoke_session(
            user_id=attacker.public_id,
            session_id=verifier.verify(victim.access_token).session_id,
        )

    refreshed = auth_service.rotate_refresh_token(victim.refresh_token)

    assert refreshed.refresh_token != victim.refresh_token


def test_revoke_session_raises_not_found_when_session_id_is_unknown(
    session: Session, auth_service: AuthService
) -> None:
    user = make_user(session)
    login(auth_service, user)

    with pytest.raises(SessionNotFoundError):
        auth_service.revoke_session(user_id=user.public_id, session_id=uuid.uuid4())


def test_prune_tokens_deletes_tokens_and_families_when_they_expired(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    user = make_user(session)
    login(auth_service, user)
    clock.advance(seconds=settings.refresh_token_ttl_seconds + 1)
    login(auth_service, user)

    result = auth_service.prune_tokens()

    assert (result.tokens_deleted, result.families_deleted) == (1, 1)


def test_prune_tokens_keeps_session_usable_when_it_is_live(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    user = make_user(session)
    login(auth_service, user)
    clock.advance(seconds=settings.refresh_token_ttl_seconds + 1)
    live = login(auth_service, user)

    auth_service.prune_tokens()

    assert auth_service.rotate_refresh_token(live.refresh_token).refresh_token


def test_prune_tokens_forgets_kept_successor_when_grace_window_is_over(
    session: Session, auth_service: AuthService, clock: FakeClock, settings: IdentitySettings
) -> None:
    first = login(auth_service, make_user(session))
    auth_service.rotate_refresh_token(first.refresh_token)
    clock.advance(seconds=settings.refresh_reuse_grace_seconds + 1)

    result = auth_service.prune_tokens()

    assert result.grace_secrets_cleared == 1
    assert find_token(session, first.refresh_token).successor_ciphertext is None


class DeactivatingHasher(Argon2idHasher):
    """Verifies for real, then lets an admin deactivate the account before login goes on:
    the moment between the password check and the session being written."""

    def __init__(self, session_factory: sessionmaker[Session], user_id: int) -> None:
        super().__init__(**CHEAP_ARGON2)
        self._session_factory = session_factory
        self._user_id = user_id

    def verify(self, password_hash: str, password: str) -> bool:
        verified = super().verify(password_hash, password)
        with self._session_factory() as other:
            other.get_one(User, self._user_id).is_active = False
            other.commit()
        return verified


def test_authenticate_raises_invalid_credentials_when_account_is_deactivated_during_login(
    session: Session, session_factory: sessionmaker[Session], parts: Components
) -> None:
    user = make_user(session)
    session.commit()
    service = build_auth_service(
        session, parts, hasher=DeactivatingHasher(session_factory, user.id)
    )

    with pytest.raises(InvalidCredentialsError):
        login(service, user)
