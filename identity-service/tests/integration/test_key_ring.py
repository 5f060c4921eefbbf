"""The process-wide key ring: a fresh database gets its first signing key when a worker starts,
on the app's clock; cached keys live `ttl_seconds` on the ring's monotonic clock."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.models import KeyState, SigningKey
from identity.security.key_ring import KeyRing
from identity.security.keys import SecretBox
from identity.services.key_service import KeyService
from service_kit_testing import FakeClock

BOX = SecretBox.from_setting("", fallback_secret="s")


class FakeMonotonic:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def make_ring(
    session_factory: sessionmaker[Session],
    *,
    clock: FakeClock | None = None,
    monotonic: FakeMonotonic | None = None,
    ttl_seconds: float = 0,
) -> KeyRing:
    app_clock = clock or FakeClock()
    return KeyRing(
        session_factory,
        box=BOX,
        first_key=lambda session: KeyService(session, box=BOX, clock=app_clock).ensure_active_key(),
        ttl_seconds=ttl_seconds,
        monotonic=monotonic or FakeMonotonic(),
    )


def test_warm_up_creates_the_first_active_key_when_the_database_has_none(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ring = make_ring(session_factory)

    ring.warm_up()

    states = session.scalars(select(SigningKey.state)).all()
    assert states == [KeyState.ACTIVE]


def test_first_key_is_stamped_by_the_app_clock_when_the_ring_creates_it(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    instant = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    make_ring(session_factory, clock=FakeClock(instant)).warm_up()

    assert session.scalars(select(SigningKey.created_at)).one() == instant


def test_signing_key_is_reloaded_only_when_its_ttl_has_passed_on_the_monotonic_clock(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    monotonic = FakeMonotonic()
    ring = make_ring(session_factory, monotonic=monotonic, ttl_seconds=60)
    first = ring.active_signing_key()
    rotated = KeyService(session, box=BOX, clock=FakeClock()).rotate_signing_key()

    monotonic.seconds += 59
    before_expiry = ring.active_signing_key()
    monotonic.seconds += 1
    after_expiry = ring.active_signing_key()

    assert before_expiry.kid == first.kid
    assert after_expiry.kid == rotated.kid


def test_unknown_kid_reloads_the_published_keys_once_the_miss_interval_has_passed(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    monotonic = FakeMonotonic()
    ring = make_ring(session_factory, monotonic=monotonic, ttl_seconds=3600)
    ring.active_signing_key()
    assert ring.find_key("not-yet") is None  # loads the published keys
    rotated = KeyService(session, box=BOX, clock=FakeClock()).rotate_signing_key()

    monotonic.seconds += 1.0
    at_the_interval = ring.find_key(rotated.kid)
    monotonic.seconds += 0.01
    past_the_interval = ring.find_key(rotated.kid)

    assert at_the_interval is None
    assert past_the_interval is not None
