"""Email verification and password reset, as the requests see them.

A request that asks for a mail (registration, a resend, a reset) only writes a row in the mail
outbox; the mail worker (`MailSender`) makes the token and sends the mail. A request for an
address without an account does exactly the same work (the worker drops its row), so neither
the answer nor its timing tells whether the address has an account.
"""

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from identity.errors import InvalidAccountTokenError
from identity.models import (
    AccountTokenPurpose,
    AuditEventType,
    MailKind,
    RevokeReason,
    ThrottleScope,
    User,
    normalise_email,
)
from identity.repositories.account_token_repository import AccountTokenRepository
from identity.repositories.mail_repository import MailOutboxRepository
from identity.repositories.refresh_token_repository import RefreshTokenFamilyRepository
from identity.repositories.user_repository import UserRepository
from identity.security.hashing import PasswordHasher
from identity.security.tokens import hash_account_token
from identity.services.audit_recorder import AuditRecorder
from identity.services.event_recorder import EventRecorder
from identity.services.throttle import AttemptThrottle
from identity.services.user_service import PasswordPolicy
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction
from service_kit.errors import TooManyAttemptsError

logger = logging.getLogger(__name__)


class AccountService:
    """Use cases of the account lifecycle that a request runs."""

    def __init__(
        self,
        session: Session,
        *,
        hasher: PasswordHasher,
        password_policy: PasswordPolicy,
        mail_throttle: AttemptThrottle,
        users: UserRepository | None = None,
        tokens: AccountTokenRepository | None = None,
        mails: MailOutboxRepository | None = None,
        families: RefreshTokenFamilyRepository | None = None,
        events: EventRecorder | None = None,
        audit: AuditRecorder | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._hasher = hasher
        self._password_policy = password_policy
        self._mail_throttle = mail_throttle
        self._users = users or UserRepository(session)
        self._tokens = tokens or AccountTokenRepository(session)
        self._mails = mails or MailOutboxRepository(session)
        self._families = families or RefreshTokenFamilyRepository(session)
        self._events = events or EventRecorder(session, clock=clock)
        self._audit = audit or AuditRecorder(session, clock=clock)
        self._clock = clock

    def request_verification_mail(self, email: str) -> None:
        """Send the address a new verification link, if it has an unverified account (the
        worker decides). Throttled per address: past the limit, nothing is sent."""
        self._request_mail(MailKind.VERIFY_EMAIL, normalise_email(email))

    def request_password_reset(self, email: str) -> None:
        """Send the address a reset link, if it has an account that can log in (the worker
        decides; the link voids older ones). Throttled per address like the verification."""
        self._request_mail(MailKind.PASSWORD_RESET, normalise_email(email))

    def verify_email(self, raw_token: str) -> None:
        """Mark the address the token was mailed to verified; the token is used up.

        Raises:
            InvalidAccountTokenError: unknown, used or expired token, or the account is gone
                or has another address now.
        """
        now = self._clock.now()
        with transaction(self._session):
            user = self._consume(raw_token, AccountTokenPurpose.VERIFY_EMAIL, now=now)
            if user.email_verified_at is None:
                user.email_verified_at = now
                self._audit.record(
                    AuditEventType.EMAIL_VERIFIED,
                    actor_id=user.public_id,
                    subject_id=user.public_id,
                )
        logger.info("email verified", extra={"user_id": str(user.public_id)})

    def reset_password(self, raw_token: str, new_password: str) -> None:
        """Set a new password with a reset token: the address counts as verified (the link
        reached it), every session ends, every access token is revoked (at items too, through
        the `identity.tokens.revoked` event), and the email's failed logins are forgotten.

        Raises:
            PasswordPolicyError: the new password breaks the policy (the token stays usable).
            InvalidAccountTokenError: unknown, used or expired token, or the account is gone,
                disabled or has another address now.
        """
        self._password_policy.check(new_password)
        token_hash = hash_account_token(raw_token)
        # Hashing costs a core for a tenth of a second: only for a token that can still work.
        if not self._tokens.usable(
            token_hash, AccountTokenPurpose.RESET_PASSWORD, now=self._clock.now()
        ):
            raise InvalidAccountTokenError()
        password_hash = self._hasher.hash(new_password)
        with transaction(self._session):
            user = self._consume(
                raw_token, AccountTokenPurpose.RESET_PASSWORD, now=self._clock.now()
            )
            if not user.can_log_in:
                raise InvalidAccountTokenError()
            now = self._clock.now()  # after the user's lock: see AuthService._lock_user
            user.password_hash = password_hash
            if user.email_verified_at is None:
                user.email_verified_at = now
            self._tokens.void_unused(user.id, AccountTokenPurpose.RESET_PASSWORD)
            revoked = self._families.revoke_all_for_user(
                user.id, at=now, reason=RevokeReason.PASSWORD_RESET
            )
            not_before = user.revoke_access_tokens(at=now)
            self._events.tokens_revoked(
                user, not_before=not_before, reason=RevokeReason.PASSWORD_RESET
            )
            self._audit.record(
                AuditEventType.PASSWORD_RESET,
                actor_id=user.public_id,
                subject_id=user.public_id,
                detail={"sessions_revoked": len(revoked)},
                alongside=[self._mail_throttle.succeeded(ThrottleScope.LOGIN, user.email)],
            )
        logger.info(
            "password reset", extra={"user_id": str(user.public_id), "revoked": len(revoked)}
        )

    def _request_mail(self, kind: MailKind, recipient: str) -> None:
        try:
            self._mail_throttle.attempt(ThrottleScope.MAIL, f"{kind.value}:{recipient}")
        except TooManyAttemptsError:
            logger.info("mail not queued: asked for too often", extra={"kind": kind.value})
            return
        with transaction(self._session):
            self._mails.enqueue(kind, recipient, now=self._clock.now())

    def _consume(self, raw_token: str, purpose: AccountTokenPurpose, *, now: datetime) -> User:
        """Use the token up and return its account, locked (in the caller's transaction)."""
        consumed = self._tokens.consume(hash_account_token(raw_token), purpose, now=now)
        if consumed is None:
            raise InvalidAccountTokenError()
        user_id, email = consumed
        user = self._users.find_by_id_for_update(user_id)
        if user is None or user.email != email:
            raise InvalidAccountTokenError()
        return user
