"""Two-factor login (TOTP) on an account: enrolment, confirmation with recovery codes,
disabling, and an admin's reset. The login's second step is `AuthService.complete_mfa_login`.

Codes are throttled per account like logins per email (`ThrottleScope.TOTP`): counted before
they are checked, refused with 429 after too many failures, forgotten on success.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.errors import (
    InvalidCodeError,
    MfaAlreadyEnabledError,
    MfaNotEnabledError,
    UserNotFoundError,
)
from identity.models import AuditEventType, ThrottleScope, User
from identity.repositories.mfa_repository import RecoveryCodeRepository
from identity.repositories.user_repository import UserRepository
from identity.security.totp import SecondFactor
from identity.services.audit_recorder import AuditRecorder
from identity.services.throttle import AttemptThrottle
from identity.services.user_service import require_live_admin
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction
from service_kit.errors import InvalidTokenError, ReauthenticationRequiredError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str


class MfaService:
    def __init__(
        self,
        session: Session,
        *,
        second_factor: SecondFactor,
        throttle: AttemptThrottle,
        reauth_max_age_seconds: int,
        users: UserRepository | None = None,
        recovery_codes: RecoveryCodeRepository | None = None,
        audit: AuditRecorder | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._factor = second_factor
        self._throttle = throttle
        self._reauth_max_age = timedelta(seconds=reauth_max_age_seconds)
        self._users = users or UserRepository(session)
        self._codes = recovery_codes or RecoveryCodeRepository(session)
        self._audit = audit or AuditRecorder(session, clock=clock)
        self._clock = clock

    def start_enrolment(self, user_id: uuid.UUID) -> TotpEnrolment:
        """A new pending secret (replacing a pending one), for the authenticator app.

        Raises:
            MfaAlreadyEnabledError: two-factor login is on.
        """
        with transaction(self._session):
            user = self._lock(self._own(user_id))
            if user.mfa_enabled:
                raise MfaAlreadyEnabledError()
            secret = self._factor.new_secret(user.email)
            user.totp_secret_ciphertext = secret.ciphertext
            user.totp_last_step = None
        return TotpEnrolment(secret.secret, secret.otpauth_uri)

    def confirm_enrolment(self, user_id: uuid.UUID, code: str) -> list[str]:
        """Turn two-factor login on with a code from the app; the recovery codes, shown once.

        Raises:
            MfaAlreadyEnabledError: it is on already.
            TooManyAttemptsError: too many wrong codes lately.
            InvalidCodeError: the code is wrong, or no enrolment is pending.
        """
        user = self._own(user_id)
        subject = self._subject(user)
        self._throttle.attempt(ThrottleScope.TOTP, subject)
        with transaction(self._session):
            user = self._lock(user)
            if user.mfa_enabled:
                raise MfaAlreadyEnabledError()
            now = self._clock.now()
            step = self._step(user, code, now=now)
            if step is None:
                raise InvalidCodeError()
            user.totp_enabled_at = now
            user.totp_last_step = step
            codes = self._factor.new_recovery_codes()
            self._codes.replace_all(user.id, [self._factor.recovery_hash(c) for c in codes])
            self._audit.record(
                AuditEventType.MFA_ENABLED,
                actor_id=user.public_id,
                subject_id=user.public_id,
                alongside=[self._throttle.succeeded(ThrottleScope.TOTP, subject)],
            )
        logger.info("two-factor login enabled", extra={"user_id": str(user_id)})
        return codes

    def disable(self, user_id: uuid.UUID, code: str, *, auth_time: datetime | None) -> None:
        """Turn two-factor login off: needs a recent login and a code (TOTP or recovery).

        Raises:
            ReauthenticationRequiredError: the login is older than the allowed age.
            MfaNotEnabledError: it is off.
            TooManyAttemptsError: too many wrong codes lately.
            InvalidCodeError: the code is wrong or used.
        """
        if auth_time is None or self._clock.now() - auth_time > self._reauth_max_age:
            raise ReauthenticationRequiredError(
                max_age_seconds=int(self._reauth_max_age.total_seconds())
            )
        user = self._own(user_id)
        subject = self._subject(user)
        self._throttle.attempt(ThrottleScope.TOTP, subject)
        with transaction(self._session):
            user = self._lock(user)
            if not user.mfa_enabled:
                raise MfaNotEnabledError()
            now = self._clock.now()
            if self._step(user, code, now=now) is None and not self._codes.use(
                user.id, self._factor.recovery_hash(code), now=now
            ):
                raise InvalidCodeError()
            self._turn_off(user)
            self._audit.record(
                AuditEventType.MFA_DISABLED,
                actor_id=user.public_id,
                subject_id=user.public_id,
                alongside=[self._throttle.succeeded(ThrottleScope.TOTP, subject)],
            )
        logger.info("two-factor login disabled", extra={"user_id": str(user_id)})

    def reset(self, *, actor_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """An admin turns a user's two-factor login off (a lost phone and lost codes).

        Raises:
            PermissionDeniedError: the actor is not a live admin.
            UserNotFoundError: no live user has this id.
        """
        require_live_admin(self._users, actor_id)
        target = self._users.find_by_public_id(user_id)
        if target is None:
            raise UserNotFoundError()
        with transaction(self._session):
            user = self._users.find_by_id_for_update(target.id)
            if user is None:
                raise UserNotFoundError()
            had = user.mfa_enabled
            self._turn_off(user)
            self._audit.record(
                AuditEventType.MFA_RESET,
                actor_id=actor_id,
                subject_id=user.public_id,
                detail={"was_enabled": had},
            )
        logger.info("two-factor login reset", extra={"user_id": str(user_id)})

    def _turn_off(self, user: User) -> None:
        user.totp_secret_ciphertext = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        self._codes.delete_all(user.id)

    def _step(self, user: User, code: str, *, now: datetime) -> int | None:
        if user.totp_secret_ciphertext is None:
            return None
        return self._factor.matching_step(
            user.totp_secret_ciphertext, code, now=now, after_step=user.totp_last_step
        )

    def _own(self, user_id: uuid.UUID) -> User:
        """The caller's account (raises InvalidTokenError when it is gone or disabled)."""
        user = self._users.find_by_public_id(user_id)
        if user is None or not user.can_log_in:
            raise InvalidTokenError()
        return user

    def _lock(self, user: User) -> User:
        """The account re-read under its row lock, still able to log in."""
        locked = self._users.find_by_id_for_update(user.id)
        if locked is None or not locked.can_log_in:
            raise InvalidTokenError()
        return locked

    @staticmethod
    def _subject(user: User) -> str:
        """What the TOTP throttle counts codes by: the account's row id, as the login's second
        step knows it (`AuthService.complete_mfa_login`)."""
        return str(user.id)
