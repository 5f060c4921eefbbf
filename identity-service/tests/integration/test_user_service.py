"""UserService against PostgreSQL: registration, password change, deletion, admin management."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.config import IdentitySettings
from identity.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    PasswordPolicyError,
    UserNotFoundError,
)
from identity.models import RefreshTokenFamily, Role, User
from identity.repositories.user_repository import UserRepository
from identity.schemas.user_schemas import AdminUserUpdate, PasswordChange, UserCreate
from identity.services.auth_service import AuthService
from identity.services.results import TokenPair
from identity.services.user_service import UserService
from identity.wiring import Components
from service_kit.db import KeysetPosition
from service_kit.errors import (
    InvalidTokenError,
    PermissionDeniedError,
    ReauthenticationRequiredError,
)
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.integration.conftest import login, login_throttle

MIN_LENGTH = 10  # differs from the default 8, so the tests show the setting is honoured
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def settings(database_url: str) -> IdentitySettings:
    return make_settings(database_url=database_url, password_min_length=MIN_LENGTH)


REAUTH_MAX_AGE = 120  # differs from the default 300, so the tests show the limit is honoured


@pytest.fixture
def user_service(session: Session, parts: Components) -> UserService:
    return UserService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        throttle=login_throttle(session, parts),
        reauth_max_age_seconds=REAUTH_MAX_AGE,
        clock=parts.clock,
    )


def revoke_reasons(session: Session, user: User) -> list[str | None]:
    """Why each of the user's sessions was revoked (None: still live), oldest first."""
    session.expire_all()
    stmt = (
        select(RefreshTokenFamily.revoke_reason)
        .where(RefreshTokenFamily.user_id == user.id)
        .order_by(RefreshTokenFamily.id)
    )
    return list(session.scalars(stmt))


def change_password(
    user_service: UserService, user: User, *, current: TokenPair, verifier: AccessTokenVerifier
) -> None:
    """Change `user`'s password to NEW_PASSWORD from the session `current` belongs to."""
    user_service.change_password(
        user.public_id,
        PasswordChange(current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD),
        current_session_id=verifier.verify(current.access_token).session_id,
    )


NEW_USER_PASSWORD = "long enough pw"


def registration(
    email: str = "new.user@example.com", password: str = NEW_USER_PASSWORD
) -> UserCreate:
    return UserCreate(email=email, password=password, full_name="New User")


@pytest.fixture
def admin_id(session: Session) -> uuid.UUID:
    """A live admin acting on other accounts."""
    return make_user(session, role=Role.ADMIN).public_id


def test_register_user_stores_lower_case_email_when_email_has_capitals(
    user_service: UserService,
) -> None:
    user = user_service.register_user(registration(email="Alice.Smith@Example.COM"))

    assert user.email == "alice.smith@example.com"


def test_register_user_creates_a_plain_user_when_no_role_is_given(
    user_service: UserService,
) -> None:
    user = user_service.register_user(registration())

    assert user.role is Role.USER


def test_register_user_stores_a_hash_that_verifies_when_registration_succeeds(
    user_service: UserService, parts: Components
) -> None:
    user = user_service.register_user(registration())

    assert parts.hasher.verify(user.password_hash, NEW_USER_PASSWORD)


def test_register_user_raises_email_taken_when_email_exists_in_other_letter_case(
    session: Session, user_service: UserService
) -> None:
    make_user(session, email="taken@example.com")

    with pytest.raises(EmailTakenError):
        user_service.register_user(registration(email="TAKEN@Example.com"))


def test_register_user_raises_email_taken_when_the_unique_constraint_decides(
    session: Session, parts: Components
) -> None:
    class BlindUserRepository(UserRepository):
        """Skips the friendly check, as a concurrent registration that lost the race would."""

        def exists_with_email(self, email: str) -> bool:
            return False

    make_user(session, email="raced@example.com")
    service = UserService(
        session,
        hasher=parts.hasher,
        password_policy=parts.password_policy,
        throttle=login_throttle(session, parts),
        users=BlindUserRepository(session),
        clock=parts.clock,
    )

    with pytest.raises(EmailTakenError):
        service.register_user(registration(email="raced@example.com"))


def test_register_user_succeeds_when_email_belonged_to_a_deleted_account(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    old = make_user(session, email="reused@example.com")
    old.soft_delete(at=clock.now())
    session.flush()

    user = user_service.register_user(registration(email="reused@example.com"))

    assert user.id != old.id


@pytest.mark.parametrize(
    "password", ["x" * (MIN_LENGTH - 1), "x" * 129], ids=["below_setting", "above_128"]
)
def test_register_user_raises_password_policy_error_when_password_length_is_out_of_bounds(
    user_service: UserService, password: str
) -> None:
    # model_construct: the schema caps length too; this checks the service's own guard.
    data = UserCreate.model_construct(email="policy@example.com", password=password)

    with pytest.raises(PasswordPolicyError):
        user_service.register_user(data)


@pytest.mark.parametrize("length", [MIN_LENGTH, 128], ids=["setting_minimum", "maximum"])
def test_register_user_accepts_password_when_length_is_on_a_bound(
    user_service: UserService, length: int
) -> None:
    user = user_service.register_user(registration(password="p" * length))

    assert user.public_id is not None


def test_change_password_keeps_current_session_live_when_password_changes(
    session: Session,
    user_service: UserService,
    auth_service: AuthService,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    current = login(auth_service, user)

    change_password(user_service, user, current=current, verifier=verifier)

    assert auth_service.rotate_refresh_token(current.refresh_token).refresh_token


def test_change_password_revokes_other_sessions_when_password_changes(
    session: Session,
    user_service: UserService,
    auth_service: AuthService,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    current = login(auth_service, user)
    other = login(auth_service, user)

    change_password(user_service, user, current=current, verifier=verifier)

    with pytest.raises(InvalidRefreshTokenError):
        auth_service.rotate_refresh_token(other.refresh_token)


def test_change_password_lets_new_password_log_in_when_password_changes(
    session: Session,
    user_service: UserService,
    auth_service: AuthService,
    verifier: AccessTokenVerifier,
) -> None:
    user = make_user(session)
    current = login(auth_service, user)

    change_password(user_service, user, current=current, verifier=verifier)

    assert login(auth_service, user, password=NEW_PASSWORD).access_token


def test_change_password_raises_invalid_credentials_when_current_password_is_wrong(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    with pytest.raises(InvalidCredentialsError):
        user_service.change_password(
            user.public_id,
            PasswordChange(current_password="not the password", new_password=NEW_PASSWORD),
            current_session_id=uuid.uuid4(),
        )


def test_change_password_raises_policy_error_when_new_password_is_below_setting(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    with pytest.raises(PasswordPolicyError):
        user_service.change_password(
            user.public_id,
            PasswordChange(current_password=DEFAULT_PASSWORD, new_password="x" * (MIN_LENGTH - 1)),
            current_session_id=uuid.uuid4(),
        )


def test_delete_own_account_marks_user_deleted_when_user_deletes_themselves(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = make_user(session)

    user_service.delete_own_account(user.public_id, auth_time=clock.now())

    session.expire_all()
    assert session.get_one(User, user.id).deleted_at == clock.now()


def test_get_current_user_raises_invalid_token_when_account_was_deleted(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = make_user(session)

    user_service.delete_own_account(user.public_id, auth_time=clock.now())

    with pytest.raises(InvalidTokenError):
        user_service.get_current_user(user.public_id)


def test_delete_own_account_revokes_every_session_when_user_has_several(
    session: Session, user_service: UserService, auth_service: AuthService, clock: FakeClock
) -> None:
    user = make_user(session)
    login(auth_service, user)
    login(auth_service, user)

    user_service.delete_own_account(user.public_id, auth_time=clock.now())

    assert revoke_reasons(session, user) == ["account_deleted", "account_deleted"]


def test_delete_own_account_deletes_when_login_is_exactly_the_maximum_age(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = make_user(session)
    logged_in_at = clock.now()
    clock.advance(seconds=REAUTH_MAX_AGE)

    user_service.delete_own_account(user.public_id, auth_time=logged_in_at)

    session.expire_all()
    assert session.get_one(User, user.id).deleted_at == clock.now()


@pytest.mark.parametrize("age", [REAUTH_MAX_AGE + 1, None], ids=["too_old", "unknown"])
def test_delete_own_account_raises_reauthentication_required_when_login_is_not_recent(
    session: Session, user_service: UserService, clock: FakeClock, age: int | None
) -> None:
    user = make_user(session)
    auth_time = None if age is None else clock.now() - timedelta(seconds=age)

    with pytest.raises(ReauthenticationRequiredError) as raised:
        user_service.delete_own_account(user.public_id, auth_time=auth_time)

    assert raised.value.max_age_seconds == REAUTH_MAX_AGE


def test_delete_own_account_keeps_the_account_when_login_is_too_old(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    user = make_user(session)
    stale = clock.now() - timedelta(seconds=REAUTH_MAX_AGE + 1)

    with pytest.raises(ReauthenticationRequiredError):
        user_service.delete_own_account(user.public_id, auth_time=stale)

    session.expire_all()
    assert session.get_one(User, user.id).deleted_at is None


def test_admin_update_user_revokes_every_session_when_user_is_deactivated(
    admin_id: uuid.UUID, session: Session, user_service: UserService, auth_service: AuthService
) -> None:
    user = make_user(session)
    login(auth_service, user)
    login(auth_service, user)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(is_active=False), actor_id=admin_id
    )

    assert revoke_reasons(session, user) == ["deactivated", "deactivated"]


def test_admin_update_user_keeps_sessions_when_user_stays_active(
    admin_id: uuid.UUID, session: Session, user_service: UserService, auth_service: AuthService
) -> None:
    user = make_user(session)
    login(auth_service, user)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(is_active=True), actor_id=admin_id
    )

    assert revoke_reasons(session, user) == [None]


def test_admin_update_user_blocks_login_when_user_is_deactivated(
    admin_id: uuid.UUID, session: Session, user_service: UserService, auth_service: AuthService
) -> None:
    user = make_user(session)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(is_active=False), actor_id=admin_id
    )

    with pytest.raises(InvalidCredentialsError):
        login(auth_service, user)


def test_admin_update_user_stores_new_role_when_role_is_changed(
    admin_id: uuid.UUID, session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=admin_id
    )

    session.expire_all()
    assert session.get_one(User, user.id).role is Role.ADMIN


def test_admin_update_user_keeps_unsent_fields_when_only_role_is_changed(
    admin_id: uuid.UUID, session: Session, user_service: UserService
) -> None:
    user = make_user(session, full_name="Kept Name")

    user_service.admin_update_user(
        user.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=admin_id
    )

    session.expire_all()
    assert session.get_one(User, user.id).full_name == "Kept Name"


def test_admin_update_user_raises_not_found_when_user_id_is_unknown(
    admin_id: uuid.UUID, user_service: UserService
) -> None:
    with pytest.raises(UserNotFoundError):
        user_service.admin_update_user(
            uuid.uuid4(), AdminUserUpdate(role=Role.ADMIN), actor_id=admin_id
        )


def test_get_user_raises_not_found_when_admin_deleted_the_user(
    admin_id: uuid.UUID, session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    user_service.admin_delete_user(user.public_id, actor_id=admin_id)

    with pytest.raises(UserNotFoundError):
        user_service.get_user(user.public_id)


def _page_through(
    service: UserService, parts: Components, *, limit: int, search: str | None = None
) -> list[list[int]]:
    """Every page's user ids, following the opaque cursor the way a client would."""
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        after = parts.user_cursors.decode(cursor) if cursor else None
        page = service.list_users(limit=limit, after=after, search=search)
        pages.append([user.id for user in page.items])
        if page.next_position is None:
            return pages
        cursor = parts.user_cursors.encode(page.next_position)


@pytest.mark.parametrize("same_timestamp", [False, True], ids=["distinct_times", "tied_times"])
def test_list_users_returns_every_user_once_in_order_when_paging_with_cursor(
    session: Session, user_service: UserService, parts: Components, same_timestamp: bool
) -> None:
    marker = uuid.uuid4().hex[:8]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    users = [make_user(session, full_name=f"Pager {marker} {n}") for n in range(7)]
    for n, user in enumerate(users):
        # Reverse the insertion order in time, so ordering by id alone would be wrong.
        user.created_at = start if same_timestamp else start - timedelta(seconds=n)
    session.flush()
    expected = [u.id for u in sorted(users, key=lambda u: (u.created_at, u.id))]

    pages = _page_through(user_service, parts, limit=3, search=marker)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [user_id for page in pages for user_id in page] == expected


def test_list_users_ends_without_cursor_when_last_page_is_exactly_full(
    session: Session, user_service: UserService, parts: Components
) -> None:
    marker = uuid.uuid4().hex[:8]
    for n in range(4):
        make_user(session, full_name=f"Exact {marker} {n}")

    pages = _page_through(user_service, parts, limit=2, search=marker)

    assert [len(page) for page in pages] == [2, 2]


@pytest.mark.parametrize(
    ("search", "expected"),
    [("100%", "100% sure"), ("snake_case", "snake_case"), ("back\\slash", "back\\slash")],
)
def test_list_users_matches_wildcard_characters_literally_when_searching(
    session: Session, user_service: UserService, search: str, expected: str
) -> None:
    for name in ("100% sure", "1000 sure", "snake_case", "snakeXcase", "back\\slash", "backslash"):
        make_user(session, full_name=name)

    page = user_service.list_users(limit=100, after=None, search=search)

    assert [user.full_name for user in page.items] == [expected]


def test_list_users_matches_email_case_insensitively_when_searching(
    session: Session, user_service: UserService
) -> None:
    user = make_user(session, email="findme-7c1e@example.com", full_name=None)

    page = user_service.list_users(limit=100, after=None, search="FINDME-7C1E")

    assert [found.id for found in page.items] == [user.id]


def test_list_users_omits_user_when_user_is_deleted(
    session: Session, user_service: UserService, clock: FakeClock
) -> None:
    marker = uuid.uuid4().hex[:8]
    kept = make_user(session, full_name=f"Kept {marker}")
    gone = make_user(session, full_name=f"Gone {marker}")
    gone.soft_delete(at=clock.now())
    session.flush()

    page = user_service.list_users(limit=100, after=None, search=marker)

    assert [user.id for user in page.items] == [kept.id]


def test_list_users_starts_after_position_when_cursor_is_given(
    session: Session, user_service: UserService
) -> None:
    marker = uuid.uuid4().hex[:8]
    first = make_user(session, full_name=f"First {marker}")
    second = make_user(session, full_name=f"Second {marker}")

    page = user_service.list_users(
        limit=100, after=KeysetPosition(first.created_at, first.id), search=marker
    )

    assert [user.id for user in page.items] == [second.id]


@pytest.mark.parametrize(
    "actor_change", [{"role": Role.USER}, {"is_active": False}], ids=["demoted", "deactivated"]
)
def test_admin_update_user_raises_permission_denied_when_the_actor_lost_the_admin_role(
    session: Session, user_service: UserService, actor_change: dict[str, object]
) -> None:
    actor = make_user(session, role=Role.ADMIN)
    for field, value in actor_change.items():
        setattr(actor, field, value)
    session.flush()

    with pytest.raises(PermissionDeniedError):
        user_service.admin_update_user(
            actor.public_id, AdminUserUpdate(role=Role.ADMIN), actor_id=actor.public_id
        )


@pytest.mark.parametrize(
    "actor_change", [{"role": Role.USER}, {"is_active": False}], ids=["demoted", "deactivated"]
)
def test_admin_get_user_raises_permission_denied_when_the_actor_lost_the_admin_role(
    session: Session, user_service: UserService, actor_change: dict[str, object]
) -> None:
    actor = make_user(session, role=Role.ADMIN)
    for field, value in actor_change.items():
        setattr(actor, field, value)
    session.flush()

    with pytest.raises(PermissionDeniedError):
        user_service.admin_get_user(make_user(session).public_id, actor_id=actor.public_id)


@pytest.mark.parametrize(
    "actor_change", [{"role": Role.USER}, {"is_active": False}], ids=["demoted", "deactivated"]
)
def test_admin_list_users_raises_permission_denied_when_the_actor_lost_the_admin_role(
    session: Session, user_service: UserService, actor_change: dict[str, object]
) -> None:
    actor = make_user(session, role=Role.ADMIN)
    for field, value in actor_change.items():
        setattr(actor, field, value)
    session.flush()

    with pytest.raises(PermissionDeniedError):
        user_service.admin_list_users(actor_id=actor.public_id, limit=10, after=None, search=None)


def test_admin_get_user_returns_the_user_when_the_actor_is_a_live_admin(
    admin_id: uuid.UUID, session: Session, user_service: UserService
) -> None:
    user = make_user(session)

    found = user_service.admin_get_user(user.public_id, actor_id=admin_id)

    assert found.id == user.id
