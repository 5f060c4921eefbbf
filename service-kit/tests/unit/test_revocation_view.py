"""RevocationView over an in-memory feed, a fake clock and a fake monotonic clock: what it
revokes, what it forgets, when it refuses to answer, and when it reloads the keys."""

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from service_kit.security.jwt_verify import Principal
from service_kit.security.revocation import (
    READ_BATCH,
    RevocationEntry,
    RevocationKind,
    RevocationsUnavailableError,
    RevocationView,
)
from service_kit_testing import FakeClock

LIFETIME = timedelta(seconds=930)  # token TTL + leeway
POLL_SECONDS = 0.2
MAX_STALENESS_SECONDS = 5.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryFeed:
    """A RevocationFeed over a list; `failing` makes every read raise like a lost database."""

    def __init__(self) -> None:
        self.entries: list[RevocationEntry] = []
        self.failing = False
        self.reads = 0

    def add(self, kind: RevocationKind, *, expires_at: datetime, **fields: object) -> None:
        revision = len(self.entries) + 1
        self.entries.append(
            RevocationEntry(revision=revision, kind=kind, expires_at=expires_at, **fields)  # type: ignore[arg-type]
        )

    def read_live(self, now: datetime) -> tuple[int, Sequence[RevocationEntry]]:
        self._read()
        return len(self.entries), [e for e in self.entries if e.expires_at > now]

    def read_after(self, revision: int, *, limit: int) -> Sequence[RevocationEntry]:
        self._read()
        return [e for e in self.entries if e.revision > revision][:limit]

    def close(self) -> None:
        pass

    def _read(self) -> None:
        self.reads += 1
        if self.failing:
            raise ConnectionError("database unreachable")


class KeyReloads:
    """An `on_keys_changed` callback that fails while told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self) -> bool:
        self.calls += 1
        return not self.failing


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def feed() -> InMemoryFeed:
    return InMemoryFeed()


@pytest.fixture
def reloads() -> KeyReloads:
    return KeyReloads()


@pytest.fixture
def view(
    feed: InMemoryFeed, clock: FakeClock, monotonic: FakeMonotonic, reloads: KeyReloads
) -> RevocationView:
    return RevocationView(
        feed,
        poll_interval_seconds=POLL_SECONDS,
        max_staleness_seconds=MAX_STALENESS_SECONDS,
        on_keys_changed=reloads,
        clock=clock,
        monotonic=monotonic,
        start_on_first_check=False,
    )


def principal(
    *,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    issued_at: datetime | None = None,
) -> Principal:
    return Principal(
        user_id=user_id or uuid.uuid4(),
        role="user",
        session_id=session_id or uuid.uuid4(),
        token_id=uuid.uuid4().hex,
        issued_at=issued_at,
    )


def seconds(instant: datetime) -> int:
    return int(instant.timestamp())


def test_is_revoked_says_yes_when_the_tokens_session_was_revoked(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock
) -> None:
    session_id = uuid.uuid4()
    feed.add(RevocationKind.SESSION, session_id=session_id, expires_at=clock.now() + LIFETIME)
    view.poll()

    assert view.is_revoked(principal(session_id=session_id, issued_at=clock.now()))
    assert not view.is_revoked(principal(issued_at=clock.now()))


@pytest.mark.parametrize(
    ("issued_offset", "revoked"),
    [(-1, True), (0, False), (1, False)],
    ids=["issued-before", "issued-at-the-instant", "issued-after"],
)
def test_is_revoked_compares_iat_with_not_before_in_whole_seconds(
    view: RevocationView,
    feed: InMemoryFeed,
    clock: FakeClock,
    issued_offset: int,
    *,
    revoked: bool,
) -> None:
    user_id = uuid.uuid4()
    not_before = seconds(clock.now())
    feed.add(
        RevocationKind.USER,
        user_id=user_id,
        not_before=not_before,
        expires_at=clock.now() + LIFETIME,
    )
    view.poll()
    issued_at = datetime.fromtimestamp(not_before + issued_offset, clock.now().tzinfo)

    assert view.is_revoked(principal(user_id=user_id, issued_at=issued_at)) is revoked


def test_is_revoked_keeps_the_latest_not_before_when_an_older_one_arrives_later(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock
) -> None:
    user_id = uuid.uuid4()
    newer, older = seconds(clock.now()), seconds(clock.now()) - 60
    for instant in (newer, older):
        feed.add(
            RevocationKind.USER,
            user_id=user_id,
            not_before=instant,
            expires_at=clock.now() + LIFETIME,
        )
    view.poll()
    between = datetime.fromtimestamp(newer - 30, clock.now().tzinfo)

    assert view.is_revoked(principal(user_id=user_id, issued_at=between))


def test_poll_forgets_entries_once_no_token_they_concern_can_be_accepted(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock, monotonic: FakeMonotonic
) -> None:
    session_id = uuid.uuid4()
    feed.add(RevocationKind.SESSION, session_id=session_id, expires_at=clock.now() + LIFETIME)
    feed.add(
        RevocationKind.USER,
        user_id=uuid.uuid4(),
        not_before=seconds(clock.now()),
        expires_at=clock.now() + LIFETIME,
    )
    view.poll()
    assert len(view) == 2
    clock.advance(seconds=LIFETIME.total_seconds())
    monotonic.advance(10)

    view.poll()

    assert len(view) == 0
    assert not view.is_revoked(principal(session_id=session_id, issued_at=clock.now()))


def test_poll_does_not_hold_an_entry_that_has_expired_when_it_arrives(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock
) -> None:
    feed.add(RevocationKind.SESSION, session_id=uuid.uuid4(), expires_at=clock.now())
    view.poll()  # first read: only live entries
    feed.add(RevocationKind.SESSION, session_id=uuid.uuid4(), expires_at=clock.now())

    view.poll()

    assert len(view) == 0


def test_poll_reads_every_entry_past_the_revision_when_there_are_more_than_a_batch(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock
) -> None:
    view.poll()
    for _ in range(READ_BATCH + 5):
        feed.add(RevocationKind.SESSION, session_id=uuid.uuid4(), expires_at=clock.now() + LIFETIME)

    view.poll()

    assert len(view) == READ_BATCH + 5
    assert view.revision == READ_BATCH + 5


def test_is_revoked_raises_unavailable_when_the_feed_was_never_read(
    view: RevocationView,
) -> None:
    with pytest.raises(RevocationsUnavailableError):
        view.is_revoked(principal())


def test_is_revoked_raises_unavailable_when_the_feed_has_been_unreadable_too_long(
    view: RevocationView, feed: InMemoryFeed, monotonic: FakeMonotonic
) -> None:
    view.poll()
    feed.failing = True
    monotonic.advance(MAX_STALENESS_SECONDS + 0.1)

    with pytest.raises(ConnectionError):
        view.poll()
    with pytest.raises(RevocationsUnavailableError):
        view.is_revoked(principal())


def test_is_revoked_answers_when_the_last_read_is_within_the_staleness_bound(
    view: RevocationView, feed: InMemoryFeed, monotonic: FakeMonotonic
) -> None:
    view.poll()
    feed.failing = True
    monotonic.advance(MAX_STALENESS_SECONDS - 0.1)

    assert view.is_revoked(principal()) is False


def test_poll_reloads_the_keys_once_when_a_key_entry_arrives(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock, reloads: KeyReloads
) -> None:
    view.poll()
    feed.add(RevocationKind.KEYS, expires_at=clock.now() + LIFETIME)

    view.poll()
    view.poll()

    assert reloads.calls == 1


def test_first_read_does_not_reload_the_keys_for_key_entries_already_in_the_feed(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock, reloads: KeyReloads
) -> None:
    feed.add(RevocationKind.KEYS, expires_at=clock.now() + LIFETIME)

    view.poll()

    assert reloads.calls == 0


def test_first_read_reloads_the_keys_for_key_entries_when_the_read_at_start_failed(
    view: RevocationView, feed: InMemoryFeed, clock: FakeClock, reloads: KeyReloads
) -> None:
    # start's read fails, the worker loads its keys, a rotation lands, the database comes back:
    # the key entry the first successful read finds is newer than the keys the worker holds.
    feed.failing = True
    view.start()
    view.stop()  # the test polls by hand from here
    feed.add(RevocationKind.KEYS, expires_at=clock.now() + LIFETIME)
    feed.failing = False

    view.poll()

    assert reloads.calls == 1


def test_poll_retries_a_failed_key_reload_until_it_succeeds(
    view: RevocationView,
    feed: InMemoryFeed,
    clock: FakeClock,
    monotonic: FakeMonotonic,
    reloads: KeyReloads,
) -> None:
    view.poll()
    feed.add(RevocationKind.KEYS, expires_at=clock.now() + LIFETIME)
    reloads.failing = True
    view.poll()
    monotonic.advance(0.5)
    view.poll()  # too soon to try again
    assert reloads.calls == 1
    reloads.failing = False
    monotonic.advance(1)

    view.poll()
    monotonic.advance(10)
    view.poll()

    assert reloads.calls == 2


def test_started_view_sees_a_new_entry_within_a_few_poll_intervals(clock: FakeClock) -> None:
    feed = InMemoryFeed()
    view = RevocationView(feed, poll_interval_seconds=0.05, clock=clock)
    view.start()
    try:
        session_id = uuid.uuid4()
        feed.add(RevocationKind.SESSION, session_id=session_id, expires_at=clock.now() + LIFETIME)
        deadline = time.monotonic() + 2
        revoked = principal(session_id=session_id, issued_at=clock.now())
        while not view.is_revoked(revoked):
            assert time.monotonic() < deadline, "the poller never applied the entry"
            time.sleep(0.01)
    finally:
        view.stop()

    assert not any(thread.name == "revocation-poller" for thread in threading.enumerate())


def test_is_revoked_starts_the_poller_when_the_process_never_started_it(
    clock: FakeClock,
) -> None:
    view = RevocationView(InMemoryFeed(), poll_interval_seconds=0.05, clock=clock)
    try:
        revoked = view.is_revoked(principal(issued_at=clock.now()))

        assert revoked is False
        assert any(thread.name == "revocation-poller" for thread in threading.enumerate())
    finally:
        view.stop()
