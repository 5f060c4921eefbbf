"""Revoked access tokens, answered from memory and kept current by polling a feed.

A resource server that verifies tokens locally learns of revocations through a feed it can read
cheaply: rows with an increasing revision, each saying "sessions S are revoked", "tokens of user
U issued before T are void" or "the signing keys changed". `RevocationView` holds what the live
rows say in the process's memory; a background thread (one per process, started after the
fork) asks the feed for rows past the last revision a few times a second. The request path only
looks up two dictionaries: no round trip.

- A token is revoked when its session is, or when its `iat` is before its user's `not_before`
  (whole seconds; the issuer guarantees tokens issued after a revocation have `iat >=
  not_before`). Revocations only add up (a set of sessions, the latest instant per user), so
  their order does not matter.
- Memory stays bounded: every entry carries the instant after which no token it concerns can
  still be accepted (the revocation plus the longest token lifetime plus the clock leeway) and
  is dropped then.
- Fail closed: a view that has not been refreshed for `max_staleness_seconds` (the feed is
  unreachable) answers `RevocationsUnavailableError` (503) instead of trusting what may be old.
- A "keys changed" row calls `on_keys_changed` (reload the JWKS) in every process, retried
  until it succeeds, so each one holds the new keys before it meets a token signed with them.
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.errors import ServiceUnavailableError
from service_kit.security.jwt_verify import Principal

logger = logging.getLogger(__name__)

READ_BATCH: Final = 1000
PRUNE_EVERY_SECONDS: Final = 5.0
KEYS_RETRY_SECONDS: Final = (1.0, 2.0, 5.0)
"""Waits between attempts to reload the keys after a failed one (the last one repeats)."""


class RevocationKind(StrEnum):
    SESSION = "session"
    """Tokens of the session `session_id` are void."""
    USER = "user"
    """Tokens of the user `user_id` issued before `not_before` are void."""
    KEYS = "keys"
    """The signing keys changed: reload them."""


@dataclass(frozen=True, slots=True)
class RevocationEntry:
    """One row of the feed."""

    revision: int
    kind: RevocationKind
    expires_at: datetime
    """After this instant no token the entry concerns can still be accepted."""
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    not_before: int | None = None
    """Seconds since the epoch."""


class RevocationFeed(Protocol):
    """Where the revocations are read from (a table with an increasing revision)."""

    def read_live(self, now: datetime) -> tuple[int, Sequence[RevocationEntry]]:
        """The current revision and every entry up to it that has not expired at `now`."""
        ...

    def read_after(self, revision: int, *, limit: int) -> Sequence[RevocationEntry]:
        """Entries past `revision`, in revision order, at most `limit` of them."""
        ...

    def close(self) -> None:
        """Release what reading held (connections); called when the view stops."""
        ...


class RevocationsUnavailableError(ServiceUnavailableError):
    code, title = "revocations_unavailable", "Token revocations unavailable"
    default_detail = "Revoked tokens cannot be told apart right now; try again shortly."
    retry_after_seconds = 2


class RevocationView:
    """Answers `is_revoked` from memory (a `RevocationCheck` for `AccessTokenVerifier`).

    Its poller thread is the only writer of the dictionaries; readers only look keys up, which
    is safe across threads in CPython without a lock.
    """

    def __init__(
        self,
        feed: RevocationFeed,
        *,
        poll_interval_seconds: float = 0.2,
        max_staleness_seconds: float = 5.0,
        on_keys_changed: Callable[[], bool] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        monotonic: Callable[[], float] = time.monotonic,
        start_on_first_check: bool = True,
    ) -> None:
        """`start_on_first_check`: a process that never called `start` (`flask run`, no
        gunicorn warm-up) starts the poller on its first check; tests that drive `poll` by hand
        turn that off."""
        self._feed = feed
        self._autostart = start_on_first_check
        self._interval = poll_interval_seconds
        self._max_staleness = max_staleness_seconds
        self._on_keys_changed = on_keys_changed
        self._clock = clock
        self._monotonic = monotonic
        # Keyed by the ids' 128-bit integers, not UUID objects: ints and floats are not tracked
        # by the garbage collector, so a big view adds nothing for its collections to walk.
        self._sessions: dict[int, float] = {}  # session id -> expires (epoch seconds)
        self._not_before: dict[int, tuple[int, float]] = {}  # user -> (instant, expires)
        self._revision: int | None = None  # None until the first complete read
        # Whether key rows found by the first complete read still call for a reload: not when
        # that read is the one `start` makes (the keys are loaded after it, a later warm-up),
        # but when it comes later, after a failed one (the keys were loaded before it).
        self._first_read_reloads_keys = False
        self._fresh_at: float | None = None  # monotonic time of the last successful read
        self._pruned_at = 0.0
        self._keys_pending = False
        self._keys_attempts = 0
        self._keys_retry_at = 0.0
        self._failing = False
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    # -- the request path ------------------------------------------------------------------

    def is_revoked(self, principal: Principal) -> bool:
        """Raises:
        RevocationsUnavailableError: the view could not be refreshed for too long.
        """
        if self._autostart and self._pid != os.getpid():
            self.start()  # outside gunicorn (flask run): the first request starts the poller
        fresh_at = self._fresh_at
        if fresh_at is None or self._monotonic() - fresh_at > self._max_staleness:
            raise RevocationsUnavailableError()
        if principal.session_id.int in self._sessions:
            return True
        mark = self._not_before.get(principal.user_id.int)
        if mark is None:
            return False
        issued_at = principal.issued_at
        return issued_at is None or issued_at.timestamp() < mark[0]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Read the feed once, then poll it from a daemon thread of this process. Idempotent;
        call it in each worker after the fork (a gunicorn warm-up), *before* the keys are loaded:
        a key change committed after this read is then applied by a later poll, and one before
        it is in the keys loaded next. A failed first read only logs: the thread keeps trying,
        and until then `is_revoked` answers 503; when its first read succeeds, the key changes
        it finds reload the keys (they were loaded before it)."""
        with self._start_lock:
            if self._pid == os.getpid() and self._thread is not None:
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._poll_safely()
            self._first_read_reloads_keys = True
            self._thread = threading.Thread(target=self._run, name="revocation-poller", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the poller and release the feed (tests; a worker just exits)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._pid = None
        self._feed.close()

    @property
    def revision(self) -> int | None:
        """The last feed revision applied (None before the first read)."""
        return self._revision

    def __len__(self) -> int:
        """How many entries the view holds (sessions plus users)."""
        return len(self._sessions) + len(self._not_before)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._poll_safely()

    def _poll_safely(self) -> None:
        try:
            self.poll()
        except Exception as exc:  # noqa: BLE001 - the poller outlives any failure of its feed
            if not self._failing:
                logger.warning(
                    "revocation feed unreadable; retrying",
                    extra={"error": type(exc).__name__},
                )
            self._failing = True
            return
        if self._failing:
            logger.info("revocation feed readable again", extra={"revision": self._revision})
        self._failing = False

    # -- one refresh -----------------------------------------------------------------------

    def poll(self) -> None:
        """Apply what the feed holds past the last revision (everything live, the first time),
        then drop expired entries and reload the keys if they changed."""
        if self._revision is None:
            revision, entries = self._feed.read_live(self._clock.now())
            for entry in entries:
                self._apply(entry, keys_matter=self._first_read_reloads_keys)
            self._revision = revision
        else:
            revision = self._revision
            while True:
                batch = self._feed.read_after(revision, limit=READ_BATCH)
                for entry in batch:
                    self._apply(entry, keys_matter=True)
                    revision = max(revision, entry.revision)
                self._revision = revision
                if len(batch) < READ_BATCH:
                    break
        now = self._monotonic()
        self._fresh_at = now
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._prune()
            self._pruned_at = now
        self._reload_keys_if_changed(now)

    def _apply(self, entry: RevocationEntry, *, keys_matter: bool) -> None:
        expires = entry.expires_at.timestamp()
        if entry.kind is RevocationKind.KEYS:
            if keys_matter and self._on_keys_changed is not None:
                self._keys_pending = True
                self._keys_attempts = 0
                self._keys_retry_at = 0.0
            return
        if expires <= self._clock.now().timestamp():
            return  # every token it concerns has expired
        if entry.kind is RevocationKind.SESSION and entry.session_id is not None:
            session = entry.session_id.int
            self._sessions[session] = max(expires, self._sessions.get(session, 0))
        elif (
            entry.kind is RevocationKind.USER
            and entry.user_id is not None
            and entry.not_before is not None
        ):
            user = entry.user_id.int
            instant, until = self._not_before.get(user, (entry.not_before, expires))
            self._not_before[user] = (max(instant, entry.not_before), max(until, expires))

    def _prune(self) -> None:
        now = self._clock.now().timestamp()
        # Rebuilt (only when something expired) and swapped in: lookups on other threads go on
        # against one dictionary or the other, never a half-pruned one.
        if any(expires <= now for expires in self._sessions.values()):
            self._sessions = {sid: exp for sid, exp in self._sessions.items() if exp > now}
        if any(until <= now for _, until in self._not_before.values()):
            self._not_before = {
                user: mark for user, mark in self._not_before.items() if mark[1] > now
            }

    def _reload_keys_if_changed(self, now: float) -> None:
        if not self._keys_pending or self._on_keys_changed is None or now < self._keys_retry_at:
            return
        if self._on_keys_changed():
            self._keys_pending = False
            logger.info("signing keys reloaded after a key change")
            return
        wait = KEYS_RETRY_SECONDS[min(self._keys_attempts, len(KEYS_RETRY_SECONDS) - 1)]
        self._keys_attempts += 1
        self._keys_retry_at = now + wait
