"""Accounts: registration, profile, password change, deletion and admin management."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    PasswordPolicyError,
    UserNotFoundError,
)
from identity.models import (
    AuditEventType,
    MailKind,
    RevokeReason,
    Role,
    ThrottleScope,
    User,
    normalise_email,
)
from identity.repositories.mail_repository import MailOutboxRepository
from identity.repositories.refresh_token_repository import RefreshTokenFamilyRepository
from identity.repositories.user_repository import UserRepository
from identity.schemas.user_schemas import AdminUserUpdate, PasswordChange, UserCreate, UserUpdate
from identity.security.hashing import PasswordHasher
from identity.security.password_limits import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from identity.services.audit_recorder import AuditRecorder
from identity.services.event_recorder import EventRecorder
from identity.services.throttle import AttemptThrottle
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import KeysetPosition, Page, page_from_rows, transaction
from service_kit.errors import (
    InvalidTokenError,
    PermissionDeniedError,
    ReauthenticationRequiredError,
    UniqueViolationError,
)
from service_kit.events.contract import UserChanges

logger = logging.getLogger(__name__)

DEFAULT_REAUTH_MAX_AGE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = PASSWORD_MIN_LENGTH
    max_length: int = PASSWORD_MAX_LENGTH

    def check(self, password: str) -> None:
        """Raises:
        PasswordPolicyError: the password is too short or too long.
        """
        if not self.min_length <= len(password) <= self.max_length:
            raise PasswordPolicyError(
                f"Passwords must be {self.min_length} to {self.max_length} characters long."
            )


def require_live_admin(users: UserRepository, actor_id: uuid.UUID) -> None:
    """The token's role claim lives up to 15 minutes; for reading and changing accounts (and
    the audit log) the database decides, so an admin demoted or deactivated a minute ago can
    neither read other people's accounts nor undo the change.

    Raises:
        PermissionDeniedError: the actor is not, or no longer, a live admin.
    """
    actor = users.find_by_public_id(actor_id)
    if actor is None or not actor.can_log_in or actor.role != Role.ADMIN:
        raise PermissionDeniedError("This operation needs the admin role.")


class UserService:
    """Use cases on user accounts."""

    def __init__(
        self,
        session: Session,
        *,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        throttle: AttemptThrottle,
        reauth_max_age_seconds: int = DEFAULT_REAUTH_MAX_AGE_SECONDS,
        users: UserRepository | None = None,
        families: RefreshTokenFamilyRepository | None = None,
        events: EventRecorder | None = None,
        audit: AuditRecorder | None = None,
        mails: MailOutboxRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._throttle = throttle
        self._mails = mails or MailOutboxRepository(session)
        self._hasher = hasher
        self._password_policy = password_policy
        self._reauth_max_age = timedelta(seconds=reauth_max_age_seconds)
        self._users = users or UserRepository(session)
        self._families = families or RefreshTokenFamilyRepository(session)
        self._events = events or EventRecorder(session, clock=clock)
        self._audit = audit or AuditRecorder(session, clock=clock)
        self._clock = clock

    def register_user(
        self, data: UserCreate, *, role: Role = Role.USER, email_verified: bool = False
    ) -> User:
        """Create an account. Unless `email_verified` (an operator vouches for the address),
        a verification mail is queued with it (the mail worker sends it).

        Raises:
            EmailTakenError: a live account already uses this email, in any letter case.
            PasswordPolicyError: the password breaks the length policy.
        """
        email = normalise_email(data.email)
        self._password_policy.check(data.password)
        if self._users.exists_with_email(email):
            raise EmailTakenError()
        password_hash = self._hasher.hash(data.password)
        now = self._clock.now()
        try:
            with transaction(self._session):
                user = self._users.add(
                    User(
                        email=email,
                        full_name=data.full_name,
                        role=role,
                        password_hash=password_hash,
                        created_at=now,
                        email_verified_at=now if email_verified else None,
                    )
                )
                self._events.user_registered(user)
                if not email_verified:
                    self._mails.enqueue(MailKind.VERIFY_EMAIL, email, now=now)
        except UniqueViolationError as exc:  # lost a race to a concurrent registration
            raise EmailTakenError() from exc
        logger.info("user registered", extra={"user_id": str(user.public_id)})
        return user

    def get_current_user(self, user_id: uuid.UUID) -> User:
        """The caller's own account.

        Raises:
            InvalidTokenError: the account behind the token is gone or disabled.
        """
        user = self._users.find_by_public_id(user_id)
        if user is None or not user.can_log_in:
            raise InvalidTokenError()
        return user

    def get_user(self, user_id: uuid.UUID) -> User:
        """Any live user, with no permission check (operators' CLI, and the admin use cases).

        Raises:
            UserNotFoundError: no live user has this id.
        """
        user = self._users.find_by_public_id(user_id)
        if user is None:
            raise UserNotFoundError()
        return user

    def list_users(
        self, *, limit: int, after: KeysetPosition | None, search: str | None
    ) -> Page[User]:
        """Live users oldest first, with no permission check (operators' CLI)."""
        rows = self._users.list_page(limit=limit + 1, after=after, search=search)
        return page_from_rows(
            rows, limit=limit, position=lambda user: KeysetPosition(user.created_at, user.id)
        )

    def admin_get_user(self, user_id: uuid.UUID, *, actor_id: uuid.UUID) -> User:
        """One user, for an admin.

        Raises:
            PermissionDeniedError: the actor is not, or no longer, a live admin.
            UserNotFoundError: no live user has this id.
        """
        self._require_admin(actor_id)
        return self.get_user(user_id)

    def admin_list_users(
        self,
        *,
        actor_id: uuid.UUID,
        limit: int,
        after: KeysetPosition | None,
        search: str | None,
    ) -> Page[User]:
        """Live users oldest first, for an admin.

        Raises:
            PermissionDeniedError: the actor is not, or no longer, a live admin.
        """
        self._require_admin(actor_id)
        return self.list_users(limit=limit, after=after, search=search)

    def update_profile(self, user_id: uuid.UUID, data: UserUpdate) -> User:
        """Change the caller's own name.

        Raises:
            InvalidTokenError: the account behind the token is gone or disabled.
        """
        user = self.get_current_user(user_id)
        with transaction(self._session):
            user = self._lock_own(user)
            if "full_name" in data.model_fields_set and data.full_name != user.full_name:
                user.full_name = data.full_name
                self._events.user_updated(user, UserChanges(full_name=data.full_name))
        return user

    def change_password(
        self, user_id: uuid.UUID, data: PasswordChange, *, current_session_id: uuid.UUID
    ) -> None:
        """Set a new password and revoke every other session of the user.

        Raises:
            TooManyAttemptsError: too many wrong passwords for the account's email lately
                (logins and changes count together).
            InvalidCredentialsError: the current password is wrong.
            PasswordPolicyError: the new password breaks the length policy.
            OverloadedError: no hashing capacity free; refused before anything was counted.
        """
        user = self.get_current_user(user_id)
        # As a login: the hashing capacity first, so a change refused for it counts nothing.
        with self._hasher.reserved():
            # Guesses of the current password count as logins of the account's email: a
            # stolen access token gets no more tries at the password than the login form gives.
            self._throttle.attempt(ThrottleScope.LOGIN, user.email)
            if not self._hasher.verify(user.password_hash, data.current_password):
                logger.warning("password change refused", extra={"user_id": str(user_id)})
                with transaction(self._session):
                    self._audit.record(
                        AuditEventType.PASSWORD_CHANGE_FAILED,
                        actor_id=user.public_id,
                        subject_id=user.public_id,
                    )
                raise InvalidCredentialsError("The current password is incorrect.")
            self._password_policy.check(data.new_password)
            password_hash = self._hasher.hash(data.new_password)
        with transaction(self._session):
            user = self._lock_own(user)
            user.password_hash = password_hash
            # The session that made the change stays; the others end, and so do their access
            # tokens (by session id, so this session's token keeps working).
            revoked = self._families.revoke_all_for_user_except(
                user.id,
                keep_family_public_id=current_session_id,
                at=self._clock.now(),
                reason=RevokeReason.PASSWORD_CHANGED,
            )
            self._events.sessions_revoked(user, revoked, reason=RevokeReason.PASSWORD_CHANGED)
            self._audit.record(
                AuditEventType.PASSWORD_CHANGED,
                actor_id=user.public_id,
                subject_id=user.public_id,
                detail={"sessions_revoked": len(revoked)},
                alongside=[self._throttle.succeeded(ThrottleScope.LOGIN, user.email)],
            )
        logger.info("password changed", extra={"user_id": str(user_id), "revoked": len(revoked)})

    def delete_own_account(self, user_id: uuid.UUID, *, auth_time: datetime | None) -> None:
        """Delete the caller's account; only with a recent login.

        `auth_time` is when the caller last entered their password (the token's claim). A
        session kept alive by refreshes keeps its login time, so a stolen refresh token
        cannot delete the account.

        Raises:
            InvalidTokenError: the account behind the token is gone or disabled.
            ReauthenticationRequiredError: the login is older than the allowed age.
        """
        user = self.get_current_user(user_id)
        if auth_time is None or self._clock.now() - auth_time > self._reauth_max_age:
            logger.info("account deletion needs a recent login", extra={"user_id": str(user_id)})
            raise ReauthenticationRequiredError(
                max_age_seconds=int(self._reauth_max_age.total_seconds())
            )
        self._delete(user, actor_id=user_id)

    def admin_update_user(
        self, user_id: uuid.UUID, data: AdminUserUpdate, *, actor_id: uuid.UUID
    ) -> User:
        """Change role, activity or name; deactivation revokes every session.

        Raises:
            PermissionDeniedError: the actor is not, or no longer, a live admin.
            UserNotFoundError: no live user has this id.
        """
        self._require_admin(actor_id)
        user = self.get_user(user_id)
        fields = data.model_fields_set
        with transaction(self._session):
            user = self._lock_any(user)
            now = self._clock.now()  # after the lock, as every revocation (see AuthService)
            changes: dict[str, object] = {}
            if "full_name" in fields and data.full_name != user.full_name:
                user.full_name = changes["full_name"] = data.full_name
            if "role" in fields and data.role is not None and data.role != user.role:
                user.role = data.role
                changes["role"] = data.role.value
            if (
                "is_active" in fields
                and data.is_active is not None
                and data.is_active != user.is_active
            ):
                user.is_active = changes["is_active"] = data.is_active
            if changes:
                self._events.user_updated(user, UserChanges.model_validate(changes))
            if "role" in changes:
                self._audit.record(
                    AuditEventType.ROLE_CHANGED,
                    actor_id=actor_id,
                    subject_id=user.public_id,
                    detail={"role": changes["role"]},
                )
            if "is_active" in changes:
                self._audit.record(
                    AuditEventType.ACTIVE_CHANGED,
                    actor_id=actor_id,
                    subject_id=user.public_id,
                    detail={"is_active": changes["is_active"]},
                )
            if changes.get("is_active") is False:
                self._families.revoke_all_for_user(user.id, at=now, reason=RevokeReason.DEACTIVATED)
                self._revoke_access_tokens(user, at=now, reason=RevokeReason.DEACTIVATED)
            elif "role" in changes:
                # Tokens carry the role: those issued before are void; a refresh (the session
                # lives on) or a new login gets a token with the new role.
                self._revoke_access_tokens(user, at=now, reason=RevokeReason.ROLE_CHANGED)
        logger.info("user updated by admin", extra={"user_id": str(user_id)})
        return user

    def admin_delete_user(self, user_id: uuid.UUID, *, actor_id: uuid.UUID) -> None:
        """Raises:
        PermissionDeniedError: the actor is not, or no longer, a live admin.
        UserNotFoundError: no live user has this id.
        """
        self._require_admin(actor_id)
        self._delete(self.get_user(user_id), actor_id=actor_id)

    def _require_admin(self, actor_id: uuid.UUID) -> None:
        require_live_admin(self._users, actor_id)

    def _delete(self, user: User, *, actor_id: uuid.UUID) -> None:
        """Raises:
        UserNotFoundError: the user was deleted meanwhile.
        """
        with transaction(self._session):
            user = self._lock_any(user)
            now = self._clock.now()
            self._families.revoke_all_for_user(user.id, at=now, reason=RevokeReason.ACCOUNT_DELETED)
            self._revoke_access_tokens(user, at=now, reason=RevokeReason.ACCOUNT_DELETED)
            user.soft_delete(at=now)
            self._events.user_deleted(user)
            self._audit.record(
                AuditEventType.USER_DELETED, actor_id=actor_id, subject_id=user.public_id
            )
        logger.info("user deleted", extra={"user_id": str(user.public_id)})

    def _revoke_access_tokens(self, user: User, *, at: datetime, reason: RevokeReason) -> None:
        not_before = user.revoke_access_tokens(at=at)
        self._events.tokens_revoked(user, not_before=not_before, reason=reason)

    def _lock_any(self, user: User) -> User:
        """Re-read and lock a live user's row for a change that emits events; the change's
        instant is taken after it (see `AuthService._lock_user`).

        Raises:
            UserNotFoundError: the user was deleted meanwhile.
        """
        locked = self._users.find_by_id_for_update(user.id)
        if locked is None:
            raise UserNotFoundError()
        return locked

    def _lock_own(self, user: User) -> User:
        """`_lock_any` for the caller's own account.

        Raises:
            InvalidTokenError: the account was deleted or disabled meanwhile.
        """
        locked = self._users.find_by_id_for_update(user.id)
        if locked is None or not locked.can_log_in:
            raise InvalidTokenError()
        return locked
