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
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from identity.models import ThrottleScope
from identity.repositories.throttle_repository import (
    AttemptRule,
    CountedAttempt,
    ThrottleRepository,
)
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import BoundQuery, BoundWrite, idempotent_statement
from service_kit.errors import TooManyAttemptsError

T = TypeVar("T")


class AttemptThrottle:
    """Counts attempts per subject before they are tried; the caller's transaction commits
    what it writes."""

    def __init__(
        self,
        session: Session,
        *,
        rule: AttemptRule,
        secret: bytes,
        throttles: ThrottleRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._rule = rule
        self._secret = secret
        self._throttles = throttles or ThrottleRepository(session)
        self._clock = clock

    def attempt(self, scope: ThrottleScope, subject: str) -> timedelta | None:
        """Count an attempt, before trying it (committed at once: one statement on
        PostgreSQL): concurrent attempts take turns on the subject's row, so no more than
        `max_failures` get through before the lock, however many arrive at once. A success
        then calls `succeeded`, which forgets them. Returns the lock this attempt started, if
        it used up the last try (a success still forgets it).

        Raises:
            TooManyAttemptsError: the subject is locked; `retry_after_seconds` until it is not.
                Nothing is counted.
        """
        now = self._clock.now()
        # Safe to repeat after a lost connection: an attempt counted twice only errs on the
        # side of the lock.
        with idempotent_statement(self._session):
            counted = self._throttles.count_attempt(
                scope, self._key(scope, subject), now=now, rule=self._rule
            )
        return self._allowed(counted, now)

    def attempt_loading(
        self, scope: ThrottleScope, subject: str, *, load: BoundQuery[T]
    ) -> tuple[timedelta | None, T | None]:
        """`attempt`, and the row `load` selects (the attempt's subject, typically), read in
        the same round trip on PostgreSQL."""
        now = self._clock.now()
        with idempotent_statement(self._session):
            outcome = self._throttles.count_attempt_loading(
                scope, self._key(scope, subject), now=now, rule=self._rule, load=load
            )
        counted, loaded = outcome  # unpacked apart: mypy infers T from the targets otherwise
        return self._allowed(counted, now), loaded

    def succeeded(self, scope: ThrottleScope, subject: str) -> BoundWrite:
        """The statement that forgets the subject's failures, for the caller's transaction to
        send (on its own, or alongside another write: `execute_alongside`)."""
        return self._throttles.removal(scope, self._key(scope, subject))

    def forget(self, removal: BoundWrite) -> None:
        """Send a `succeeded` statement now, on its own (in the caller's transaction)."""
        self._throttles.execute_removal(removal)

    def prune(self) -> int:
        """Forget subjects idle for longer than a window and the longest lock."""
        now = self._clock.now()
        idle = self._rule.window + self._rule.max_lock
        return self._throttles.delete_idle(updated_before=now - idle, now=now)

    @staticmethod
    def _allowed(counted: CountedAttempt, now: datetime) -> timedelta | None:
        if counted.refused_until is not None:
            raise TooManyAttemptsError(
                retry_after_seconds=_seconds_until(counted.refused_until, now)
            )
        return counted.lock_started

    def _key(self, scope: ThrottleScope, subject: str) -> str:
        message = f"{scope.value}:{subject}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
