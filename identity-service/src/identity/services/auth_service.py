"""Login, refresh-token rotation with reuse detection, logout and session management."""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, NoReturn

from sqlalchemy.orm import Session

from identity.errors import (
    EmailNotVerifiedError,
    InvalidCredentialsError,
    InvalidMfaError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    SessionNotFoundError,
)
from identity.models import (
    AuditEventType,
    MfaChallenge,
    RefreshToken,
    RefreshTokenFamily,
    RevokeReason,
    ThrottleScope,
    User,
    normalise_email,
)
from identity.repositories.account_token_repository import AccountTokenRepository
from identity.repositories.mfa_repository import MfaChallengeRepository, RecoveryCodeRepository
from identity.repositories.refresh_token_repository import (
    RefreshTokenFamilyRepository,
    RefreshTokenRepository,
    Rotation,
)
from identity.repositories.user_repository import UserRepository
from identity.security.hashing import PasswordHasher
from identity.security.keys import SecretBox
from identity.security.signing import AccessTokenIssuer
from identity.security.tokens import hash_refresh_token, new_refresh_token
from identity.security.totp import SecondFactor
from identity.services.audit_recorder import AuditRecorder
from identity.services.event_recorder import EventRecorder
from identity.services.results import MfaRequired, PruneResult, SessionInfo, TokenPair
from identity.services.throttle import AttemptThrottle
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import BoundWrite, transaction
from service_kit.errors import InvalidTokenError
from service_kit.origin import clip_user_agent
from service_kit.progress import Advance, no_progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    ttl_seconds: int
    reuse_grace_seconds: int
    max_lifetime_seconds: int
    """A family's absolute limit, counted from its login; refreshing never extends it."""

    def expiry(self, *, login_at: datetime, now: datetime) -> datetime:
        """When a token issued `now` in a family started at `login_at` expires: one TTL, capped
        by the family's absolute end."""
        family_end = login_at + timedelta(seconds=self.max_lifetime_seconds)
        return min(now + timedelta(seconds=self.ttl_seconds), family_end)


@dataclass(frozen=True, slots=True)
class MfaPolicy:
    """Two-factor login as the login sees it."""

    second_factor: SecondFactor
    throttle: AttemptThrottle
    """Counts codes per account (`ThrottleScope.TOTP`)."""
    challenge_ttl_seconds: int = 300
    max_failures: int = 5
    """Wrong codes that void an mfa_token."""


@dataclass(frozen=True, slots=True)
class _Grant:
    """What a new token pair is made of; the access token is signed after the commit, so no
    signing (and no key lookup) happens while row locks are held."""

    subject: uuid.UUID
    role: str
    session_id: uuid.UUID
    refresh_token: str
    auth_time: datetime
    not_before: datetime | None
    """The user's revocation bound when the grant was made, read under the user's row lock."""
    email_verified: bool


@dataclass(frozen=True, slots=True)
class _Reused:
    family_id: uuid.UUID


class _Invalid:
    pass


class AuthService:
    """Use cases of authentication. Every credential failure looks the same to the caller."""

    def __init__(
        self,
        session: Session,
        *,
        issuer: AccessTokenIssuer,
        box: SecretBox,
        hasher: PasswordHasher,
        policy: RefreshPolicy,
        users: UserRepository | None = None,
        tokens: RefreshTokenRepository | None = None,
        families: RefreshTokenFamilyRepository | None = None,
        events: EventRecorder | None = None,
        throttle: AttemptThrottle,
        audit: AuditRecorder | None = None,
        account_tokens: AccountTokenRepository | None = None,
        mfa: MfaPolicy,
        require_verified_email: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._mfa = mfa
        self._challenges = MfaChallengeRepository(session)
        self._recovery_codes = RecoveryCodeRepository(session)
        self._require_verified_email = require_verified_email
        self._account_tokens = account_tokens or AccountTokenRepository(session)
        self._throttle = throttle
        self._issuer = issuer
        self._box = box
        self._hasher = hasher
        self._policy = policy
        self._users = users or UserRepository(session)
        self._tokens = tokens or RefreshTokenRepository(session)
        self._families = families or RefreshTokenFamilyRepository(session)
        self._events = events or EventRecorder(session, clock=clock)
        self._audit = audit or AuditRecorder(session, clock=clock)
        self._clock = clock

    def authenticate(
        self, *, email: str, password: str, user_agent: str | None
    ) -> TokenPair | MfaRequired:
        """Check the password and start a new session (token family), or, when two-factor
        login is on, answer with a challenge for `complete_mfa_login`.

        Raises:
            TooManyAttemptsError: too many failed logins for this email (known or not) lately;
                refused before the password is looked at.
            InvalidCredentialsError: unknown email, wrong password, inactive or deleted account.
            OverloadedError: no hashing capacity free; refused before anything was counted.
        """
        # The hashing capacity first: a login refused for it must not count as an attempt
        # (a flood of right passwords would lock their accounts out).
        with self._hasher.reserved():
            return self._authenticate(email=email, password=password, user_agent=user_agent)

    def _authenticate(
        self, *, email: str, password: str, user_agent: str | None
    ) -> TokenPair | MfaRequired:
        login = normalise_email(email)
        # Counted (and committed) before the password is looked at: concurrent attempts for
        # one email take turns here, so no burst gets more guesses than the throttle allows.
        # The account is read in the same round trip (PostgreSQL).
        attempt = self._throttle.attempt_loading(
            ThrottleScope.LOGIN, login, load=self._users.by_email(login)
        )
        lock_started, user = attempt
        if user is None:
            self._hasher.burn_time(password)
            logger.warning("login failed", extra={"reason": "unknown_account"})
            self._login_failed(lock_started, None, reason="unknown_account")
        elif not self._hasher.verify(user.password_hash, password):
            logger.warning("login failed", extra={"user_id": str(user.public_id)})
            self._login_failed(lock_started, user.public_id, reason="wrong_password")
        elif not user.can_log_in:
            logger.warning("login failed", extra={"user_id": str(user.public_id)})
            self._login_failed(lock_started, user.public_id, reason="account_disabled")
        elif self._require_verified_email and not user.email_verified:
            logger.warning(
                "login refused: email not verified", extra={"user_id": str(user.public_id)}
            )
            self._refuse_unverified(login, user)
        verified_hash = user.password_hash
        now = self._clock.now()
        with transaction(self._session):
            # Re-check under the row lock: a deactivation, deletion or password change that
            # committed since the check above wins, and no session is started after it.
            user = self._users.find_by_id_for_update(user.id)
            if user is None or not user.can_log_in or user.password_hash != verified_hash:
                raise InvalidCredentialsError()
            if self._hasher.needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(password)
            forget = self._throttle.succeeded(ThrottleScope.LOGIN, login)
            if user.mfa_enabled:
                challenge = self._challenge(user, user_agent=user_agent, now=now, forget=forget)
            else:
                grant = self._open_session(user, user_agent=user_agent, now=now, forget=forget)
        if user.mfa_enabled:
            logger.info("login needs the second factor", extra={"user_id": str(user.public_id)})
            return challenge
        logger.info("login succeeded", extra={"user_id": str(user.public_id)})
        return self._pair(grant, now=now)

    def complete_mfa_login(
        self,
        mfa_token: str,
        *,
        code: str | None,
        recovery_code: str | None,
        user_agent: str | None,
    ) -> TokenPair:
        """The login's second step: the `mfa_token` of a login with the right password, and a
        TOTP code (used once) or an unused recovery code. `max_failures` wrong codes void the
        token; codes also count in the account's TOTP throttle.

        Raises:
            TooManyAttemptsError: too many wrong codes for this account lately.
            InvalidMfaError: unknown, expired, used or voided token, or a wrong code.
        """
        now = self._clock.now()
        found = self._challenges.find_open(hash_refresh_token(mfa_token), now=now)
        if found is None:
            raise InvalidMfaError()
        # The account's row id: the subject its enrolment and disabling count codes by too.
        subject = str(found.user_id)
        self._mfa.throttle.attempt(ThrottleScope.TOTP, subject)
        with transaction(self._session):
            user = self._users.find_by_id_for_update(found.user_id)  # the user's lock first
            challenge = self._challenges.lock(found.id)
            open_ = challenge is not None and challenge.closed_at is None
            if user is None or not user.can_log_in or not user.mfa_enabled or not open_:
                raise InvalidMfaError()
            assert challenge is not None  # noqa: S101 - open_ says so
            method = self._second_factor(user, code=code, recovery_code=recovery_code, now=now)
            if method is None:
                challenge.failures += 1
                if challenge.failures >= self._mfa.max_failures:
                    challenge.closed_at = now
                self._audit.record(
                    AuditEventType.LOGIN_FAILED,
                    subject_id=user.public_id,
                    detail={
                        "reason": "wrong_second_factor",
                        "mfa_token_voided": challenge.closed_at is not None,
                    },
                )
                failed = True
            else:
                challenge.closed_at = now
                failed = False
                grant = self._open_session(
                    user,
                    user_agent=user_agent,
                    now=now,
                    forget=self._mfa.throttle.succeeded(ThrottleScope.TOTP, subject),
                    method=method,
                )
        if failed:  # raised after the block: the failure's count is committed
            raise InvalidMfaError()
        logger.info("login succeeded", extra={"user_id": str(user.public_id), "mfa": method})
        return self._pair(grant, now=now)

    def rotate_refresh_token(self, raw_token: str, *, user_agent: str | None = None) -> TokenPair:
        """Exchange a refresh token for a new pair.

        The presented row is locked, so concurrent rotations are serialised. Within the grace
        window the immediate parent of the live token gets the same successor again (a retry or
        a race never forks the family); any other used token is reuse and revokes the family.

        Raises:
            InvalidRefreshTokenError: unknown, expired or revoked token, or a disabled account.
            RefreshTokenReusedError: a used token came back; the family is now revoked.
        """
        now = self._clock.now()
        with transaction(self._session):
            outcome = self._rotate_locked(hash_refresh_token(raw_token), now=now, ua=user_agent)
        # Raising after the block: the family revocation above is committed, not rolled back.
        if isinstance(outcome, _Reused):
            logger.warning(
                "security event: refresh token reuse, family revoked",
                extra={"event": "refresh_token_reused", "session_id": str(outcome.family_id)},
            )
            raise RefreshTokenReusedError()
        if isinstance(outcome, _Invalid):
            raise InvalidRefreshTokenError()
        return self._pair(outcome, now=now)

    def revoke_refresh_token(self, raw_token: str) -> None:
        """Logout: revoke the token's family. Unknown tokens are ignored (RFC 7009)."""
        token_hash = hash_refresh_token(raw_token)
        with transaction(self._session):
            user = self._users.find_by_refresh_token_for_update(token_hash)
            token = self._tokens.find_by_hash(token_hash) if user is not None else None
            if user is None or token is None:
                return
            revoked = self._families.revoke_family(
                token.family_id, at=self._clock.now(), reason=RevokeReason.LOGOUT
            )
            self._events.sessions_revoked(user, revoked, reason=RevokeReason.LOGOUT)
            self._audit.record(
                AuditEventType.LOGOUT, actor_id=user.public_id, subject_id=user.public_id
            )
        logger.info("session logged out")

    def revoke_all_sessions(self, *, user_id: uuid.UUID) -> int:
        """Logout everywhere: revoke every family of the user."""
        user = self._require_user(user_id)
        with transaction(self._session):
            user = self._lock_user(user)
            now = self._clock.now()  # after the lock: see `_lock_user`
            revoked = self._families.revoke_all_for_user(
                user.id, at=now, reason=RevokeReason.LOGOUT_ALL
            )
            not_before = user.revoke_access_tokens(at=now)
            self._events.tokens_revoked(user, not_before=not_before, reason=RevokeReason.LOGOUT_ALL)
            self._audit.record(
                AuditEventType.LOGOUT_ALL,
                actor_id=user.public_id,
                subject_id=user.public_id,
                detail={"sessions": len(revoked)},
            )
        logger.info("all sessions revoked", extra={"user_id": str(user_id), "count": len(revoked)})
        return len(revoked)

    def list_sessions(
        self, *, user_id: uuid.UUID, current_session_id: uuid.UUID
    ) -> list[SessionInfo]:
        user = self._require_user(user_id)
        families = self._families.list_live_for_user(user.id, now=self._clock.now())
        return [
            SessionInfo(
                id=family.public_id,
                created_at=family.created_at,
                last_used_at=family.last_used_at,
                user_agent=family.user_agent,
                is_current=family.public_id == current_session_id,
            )
            for family in families
        ]

    def revoke_session(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """Raises:
        SessionNotFoundError: the user has no live session with this id.
        """
        user = self._require_user(user_id)
        with transaction(self._session):
            user = self._lock_user(user)
            now = self._clock.now()
            family = self._families.find_by_public_id(session_id, user_id=user.id)
            if family is None or not family.is_live(now):
                raise SessionNotFoundError()
            revoked = self._families.revoke_family(
                family.id, at=now, reason=RevokeReason.SESSION_DELETED
            )
            self._events.sessions_revoked(user, revoked, reason=RevokeReason.SESSION_DELETED)
            self._audit.record(
                AuditEventType.SESSION_REVOKED,
                actor_id=user.public_id,
                subject_id=user.public_id,
                detail={"session_id": str(session_id)},
            )
        logger.info(
            "session revoked", extra={"user_id": str(user_id), "session_id": str(session_id)}
        )

    def _login_failed(
        self, lock_started: timedelta | None, subject_id: uuid.UUID | None, *, reason: str
    ) -> NoReturn:
        """Record the failed login (a transaction of its own) and refuse it. Known and unknown
        emails take the same path: the same writes, the same answer."""
        detail: dict[str, object] = {"reason": reason}
        if lock_started is not None:
            detail["locked_for_seconds"] = int(lock_started.total_seconds())
        with transaction(self._session):
            self._audit.record(AuditEventType.LOGIN_FAILED, subject_id=subject_id, detail=detail)
        raise InvalidCredentialsError()

    def _open_session(
        self,
        user: User,
        *,
        user_agent: str | None,
        now: datetime,
        forget: BoundWrite,
        method: str | None = None,
    ) -> _Grant:
        """A new session (token family) and its first token, and the login's audit event, in
        the caller's transaction; `forget` (the throttle's) rides with the event."""
        family = self._families.add(
            RefreshTokenFamily(
                user_id=user.id,
                user_agent=clip_user_agent(user_agent),
                created_at=now,  # the login time: the absolute lifetime counts from it
                last_used_at=now,
                expires_at=self._policy.expiry(login_at=now, now=now),
            )
        )
        grant = self._start_chain(user, family, now=now)
        detail = {"session_id": str(family.public_id)}
        if method is not None:
            detail["second_factor"] = method
        self._audit.record(
            AuditEventType.LOGIN_SUCCEEDED,
            actor_id=user.public_id,
            subject_id=user.public_id,
            detail=detail,
            alongside=[forget],
        )
        return grant

    def _challenge(
        self, user: User, *, user_agent: str | None, now: datetime, forget: BoundWrite
    ) -> MfaRequired:
        """The password was right and TOTP is on: a challenge instead of a session."""
        raw = new_refresh_token()
        ttl = self._mfa.challenge_ttl_seconds
        self._challenges.add(
            MfaChallenge(
                user_id=user.id,
                token_hash=hash_refresh_token(raw),
                user_agent=clip_user_agent(user_agent),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        self._throttle.forget(forget)
        return MfaRequired(mfa_token=raw, expires_in=ttl)

    def _second_factor(
        self, user: User, *, code: str | None, recovery_code: str | None, now: datetime
    ) -> str | None:
        """Which factor was right ("totp", "recovery_code"), recorded as used; None: wrong."""
        factor = self._mfa.second_factor
        if code is not None and user.totp_secret_ciphertext is not None:
            step = factor.matching_step(
                user.totp_secret_ciphertext, code, now=now, after_step=user.totp_last_step
            )
            if step is not None:
                user.totp_last_step = step
                return "totp"
        if recovery_code is not None and self._recovery_codes.use(
            user.id, factor.recovery_hash(recovery_code), now=now
        ):
            return "recovery_code"
        return None

    def _refuse_unverified(self, login: str, user: User) -> NoReturn:
        """The password was right, so the failures are forgotten; the login is refused all the
        same, only now saying why (which a wrong password never learns)."""
        with transaction(self._session):
            self._audit.record(
                AuditEventType.LOGIN_FAILED,
                subject_id=user.public_id,
                detail={"reason": "email_not_verified"},
                alongside=[self._throttle.succeeded(ThrottleScope.LOGIN, login)],
            )
        raise EmailNotVerifiedError()

    PRUNE_STEPS: Final = 5

    def prune_tokens(self, *, on_progress: Advance = no_progress) -> PruneResult:
        """Delete expired tokens and dead families; forget grace-window secrets past the window
        and the failed logins of emails idle for longer than the throttle remembers. Each of
        the `PRUNE_STEPS` steps is a transaction of its own, reported when committed."""
        now = self._clock.now()
        grace = timedelta(seconds=self._policy.reuse_grace_seconds)

        def step(work: Callable[[], int]) -> int:
            with transaction(self._session):
                done = work()
            on_progress(1)
            return done

        cleared = step(
            lambda: self._tokens.clear_stale_successor_ciphertexts(used_before=now - grace)
        )
        tokens_deleted = step(lambda: self._tokens.delete_expired(now=now))
        families_deleted = step(lambda: self._families.delete_dead(now=now))
        throttles = step(self._throttle.prune)
        account_tokens = step(
            lambda: (
                self._account_tokens.delete_expired(before=now)
                + self._challenges.delete_expired(before=now)
            )
        )
        logger.info(
            "refresh tokens pruned",
            extra={
                "tokens": tokens_deleted,
                "families": families_deleted,
                "throttles": throttles,
                "account_tokens": account_tokens,
            },
        )
        return PruneResult(tokens_deleted, families_deleted, cleared, throttles, account_tokens)

    def _rotate_locked(
        self, token_hash: str, *, now: datetime, ua: str | None
    ) -> _Grant | _Reused | _Invalid:
        # The user's row first, then the token's, in the order every revocation takes them:
        # a refresh and a revocation of the same user never wait for each other in a cycle,
        # and the grant reads the user's role and revocation bound as they are now.
        user = self._users.find_by_refresh_token_for_update(token_hash)
        if user is None or not user.can_log_in:
            return _Invalid()
        found = self._tokens.find_with_family_for_update(token_hash)
        if found is None:
            return _Invalid()
        token, family = found
        if token.is_expired(now) or family.user_id != user.id or not family.is_live(now):
            return _Invalid()

        if token.used_at is None:
            return self._rotate(user, family, token, now=now, user_agent=ua)

        successor = self._tokens.find_successor(token)
        grace = timedelta(seconds=self._policy.reuse_grace_seconds)
        if (
            now - token.used_at <= grace
            and successor is not None
            and successor.used_at is None
            and token.successor_ciphertext is not None
        ):
            raw_successor = self._box.decrypt(token.successor_ciphertext)
            if raw_successor is not None:
                family.last_used_at = now
                return _grant(user, family, raw_successor.decode())

        revoked = self._families.revoke_family(
            family.id, at=now, reason=RevokeReason.REUSE_DETECTED
        )
        self._events.sessions_revoked(user, revoked, reason=RevokeReason.REUSE_DETECTED)
        self._audit.record(
            AuditEventType.REFRESH_TOKEN_REUSED,
            subject_id=user.public_id,
            detail={"session_id": str(family.public_id)},
        )
        return _Reused(family.public_id)

    def _rotate(
        self,
        user: User,
        family: RefreshTokenFamily,
        token: RefreshToken,
        *,
        now: datetime,
        user_agent: str | None,
    ) -> _Grant:
        raw_successor = new_refresh_token()
        self._tokens.record_rotation(
            Rotation(
                token=token,
                family=family,
                at=now,
                successor_hash=hash_refresh_token(raw_successor),
                # kept for the grace window: only the immediate parent of the live token replays
                successor_ciphertext=self._box.encrypt(raw_successor.encode())
                if self._policy.reuse_grace_seconds > 0
                else None,
                expires_at=self._policy.expiry(login_at=family.created_at, now=now),
                user_agent=clip_user_agent(user_agent),
            )
        )
        return _grant(user, family, raw_successor)

    def _start_chain(self, user: User, family: RefreshTokenFamily, *, now: datetime) -> _Grant:
        raw = new_refresh_token()
        self._tokens.add(
            RefreshToken(
                family_id=family.id,
                token_hash=hash_refresh_token(raw),
                created_at=now,
                expires_at=family.expires_at,
            )
        )
        return _grant(user, family, raw)

    def _pair(self, grant: _Grant, *, now: datetime) -> TokenPair:
        access = self._issuer.issue(
            subject=grant.subject,
            role=grant.role,
            session_id=grant.session_id,
            auth_time=grant.auth_time,
            now=now,
            not_before=grant.not_before,
            email_verified=grant.email_verified,
        )
        return TokenPair(
            access_token=access,
            refresh_token=grant.refresh_token,
            expires_in=self._issuer.ttl_seconds,
        )

    def _require_user(self, user_id: uuid.UUID) -> User:
        user = self._users.find_by_public_id(user_id)
        if user is None or not user.can_log_in:
            raise InvalidTokenError()
        return user

    def _lock_user(self, user: User) -> User:
        """Re-read and lock the user's row for a change that emits events.

        Revocations take their instant only after this lock: a token granted before it was
        granted at an earlier instant, so its `iat` falls below the new `not_before`.

        Raises:
            InvalidTokenError: the account was deleted or disabled meanwhile.
        """
        locked = self._users.find_by_id_for_update(user.id)
        if locked is None or not locked.can_log_in:
            raise InvalidTokenError()
        return locked


def _grant(user: User, family: RefreshTokenFamily, raw_refresh: str) -> _Grant:
    # The family starts at login, the last time the password was entered: every token of the
    # session, however often refreshed, carries that instant as `auth_time`.
    return _Grant(
        user.public_id,
        user.role.value,
        family.public_id,
        raw_refresh,
        family.created_at,
        user.tokens_not_before,
        user.email_verified,
    )
