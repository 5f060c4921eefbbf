"""Per-account throttling of failed attempts (logins per email; TOTP codes later).

Every attempt is counted before it is tried; after `max_failures` of them within
`window_seconds` without a success, the subject is locked: further attempts are refused (429
`too_many_attempts`, `Retry-After`) without being tried, for `lock_seconds`, then twice that
after the next lock, and so on up to `max_lock_seconds`. A success forgets it all. The
subject (a login's normalised email) is kept only as an HMAC, and an unknown email goes
through exactly what a known one does.
"""

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from identity.models import ThrottleScope
from identity.repositories.throttle_repository import ThrottleRepository
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.errors import TooManyAttemptsError


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    window_seconds: int
    lock_seconds: int
    max_lock_seconds: int

    def lock_for(self, lockouts: int) -> timedelta:
        """How long the lock after `lockouts` earlier ones lasts."""
        seconds = self.lock_seconds * 2 ** min(lockouts, 32)
        return timedelta(seconds=min(seconds, self.max_lock_seconds))


@dataclass(frozen=True, slots=True)
class Attempt:
    """An attempt counted before it was tried."""

    lock_started: timedelta | None
    """It used up the last try: the lock it started (a success still forgets it)."""


class AttemptThrottle:
    """Counts attempts per subject before they are tried; the caller's transaction commits
    what it writes."""

    def __init__(
        self,
        session: Session,
        *,
        policy: ThrottlePolicy,
        secret: bytes,
        throttles: ThrottleRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._policy = policy
        self._secret = secret
        self._throttles = throttles or ThrottleRepository(session)
        self._clock = clock

    def attempt(self, scope: ThrottleScope, subject: str) -> Attempt:
        """Count an attempt, before trying it (inside the caller's transaction, which should
        commit before the attempt is tried): concurrent attempts take turns on the subject's
        row, so no more than `max_failures` get through before the lock, however many arrive
        at once. A success then calls `succeeded`, which forgets them.

        Raises:
            TooManyAttemptsError: the subject is locked; `retry_after_seconds` until it is not.
                Nothing is counted.
        """
        now = self._clock.now()
        row = self._throttles.claim(scope, self._key(scope, subject), now=now)
        if row.locked_until is not None and row.locked_until > now:
            raise TooManyAttemptsError(retry_after_seconds=_seconds_until(row.locked_until, now))
        if now - row.window_started_at >= timedelta(seconds=self._policy.window_seconds):
            row.window_started_at = now
            row.failures = 0
        row.failures += 1
        row.updated_at = now
        lock = None
        if row.failures >= self._policy.max_failures:
            lock = self._policy.lock_for(row.lockouts)
            row.locked_until = now + lock
            row.lockouts += 1
            row.failures = 0
            row.window_started_at = now
        self._throttles.flush()
        return Attempt(lock_started=lock)

    def succeeded(self, scope: ThrottleScope, subject: str) -> None:
        """Forget the subject's failures (inside the caller's transaction)."""
        self._throttles.remove(scope, self._key(scope, subject))

    def prune(self) -> int:
        """Forget subjects idle for longer than a window and the longest lock."""
        now = self._clock.now()
        idle = timedelta(seconds=self._policy.window_seconds + self._policy.max_lock_seconds)
        return self._throttles.delete_idle(updated_before=now - idle, now=now)

    def _key(self, scope: ThrottleScope, subject: str) -> str:
        message = f"{scope.value}:{subject}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
