"""The outbox relay against real PostgreSQL and a real RabbitMQ vhost: round trip, order, several
relays at once, a broker outage, metrics.

Each test has a migrated database of its own (`committing_database`: the relay publishes
whatever is pending) and reads what reached the exchange through a queue of its own
(`EventTap`).
"""

from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy.orm import Session

from identity.repositories.outbox_repository import OutboxRepository
from identity.services.outbox_service import OutboxRelay
from service_kit.db import Database, transaction
from service_kit.events.broker import EventPublisher
from service_kit.events.contract import CONTENT_TYPE
from service_kit.events.relay_metrics import RelayMetrics
from service_kit_testing import FakeClock
from service_kit_testing.event_tap import EventTap
from service_kit_testing.tcp_proxy import TcpProxy
from tests.integration.relay_support import (
    in_user_order,
    pending_count,
    running_relay,
    sent_event_ids,
    stored_events,
    wait_until,
    write_user_events,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def tap(broker_url: str) -> Iterator[EventTap]:
    with EventTap(broker_url) as tap:
        yield tap


@pytest.fixture
def publisher(broker_url: str) -> Iterator[EventPublisher]:
    publisher = EventPublisher(broker_url)
    yield publisher
    publisher.close()


@pytest.fixture
def relay(committing_database: Database, publisher: EventPublisher) -> Callable[..., OutboxRelay]:
    """Relays on the test's database publishing through the test's publisher; call
    `relay_once()` on them (`running_relay` runs the loop)."""
    return lambda **options: OutboxRelay(committing_database.session_factory, publisher, **options)


def test_relay_publishes_each_pending_event_unchanged_as_a_persistent_confirmed_message(
    committing_database: Database, tap: EventTap, relay: Callable[..., OutboxRelay]
) -> None:
    written = write_user_events(committing_database.session_factory, users=1, per_user=3)

    relay().relay_once()

    tap.wait_for(lambda events: len(events) == 3)
    assert [tapped.event for tapped in tap.received] == [
        stored_events(committing_database)[event_id] for event_id in written.event_ids
    ]
    assert {
        (
            tapped.properties["delivery_mode"],
            tapped.properties["content_type"],
            tapped.properties["routing_key"],
        )
        for tapped in tap.received
    } == {(2, CONTENT_TYPE, "identity.user.updated")}
    assert [tapped.properties["message_id"] for tapped in tap.received] == [
        str(event_id) for event_id in written.event_ids
    ]


def test_relay_marks_events_sent_when_the_broker_confirmed_them(
    committing_database: Database, relay: Callable[..., OutboxRelay]
) -> None:
    written = write_user_events(committing_database.session_factory, users=2, per_user=2)

    result = relay().relay_once()

    assert (result.claimed, result.published, result.broker_error) == (4, 4, None)
    assert sent_event_ids(committing_database) == set(written.event_ids)


def test_relay_publishes_at_most_one_batch_when_more_events_are_pending(
    committing_database: Database, relay: Callable[..., OutboxRelay]
) -> None:
    write_user_events(committing_database.session_factory, users=1, per_user=5)

    result = relay(batch_size=3).relay_once()

    assert (result.published, pending_count(committing_database)) == (3, 2)


def test_relay_publishes_a_users_events_in_sequence_order_when_several_are_pending(
    committing_database: Database, broker_url: str, tap: EventTap
) -> None:
    write_user_events(committing_database.session_factory, users=3, per_user=4)

    with running_relay(committing_database, broker_url, batch_size=5):
        events = tap.wait_for(lambda events: len(events) == 12)

    assert in_user_order(events)


def test_relay_skips_rows_another_relay_holds_and_publishes_the_others(
    committing_database: Database, tap: EventTap, relay: Callable[..., OutboxRelay]
) -> None:
    written = write_user_events(committing_database.session_factory, users=3, per_user=1)
    with committing_database.session_factory() as other, transaction(other):
        held = OutboxRepository(other).claim_pending(limit=1)  # another relay's batch

        result = relay().relay_once()

        assert [row.event_id for row in held] == written.event_ids[:1]
        tap.wait_for(lambda events: len(events) == 2)
        assert (result.claimed, result.published) == (2, 2)
        assert [event.id for event in tap.events] == written.event_ids[1:]
        other.rollback()


def test_relay_holds_back_a_users_later_events_while_an_earlier_one_is_held_elsewhere(
    committing_database: Database, tap: EventTap, relay: Callable[..., OutboxRelay]
) -> None:
    written = write_user_events(committing_database.session_factory, users=1, per_user=3)
    other_user = write_user_events(committing_database.session_factory, users=1, per_user=1)
    other: Session
    with committing_database.session_factory() as other, transaction(other):
        OutboxRepository(other).claim_pending(limit=1)  # the user's first event, elsewhere

        result = relay().relay_once()

        assert result.published == 1  # only the other user's event
        tap.wait_for(lambda events: len(events) == 1)
        assert tap.events[0].id == other_user.event_ids[0]
        other.rollback()

    relay().relay_once()

    tap.wait_for(lambda events: len(events) == 4)
    assert [event.id for event in tap.events[1:]] == written.event_ids


def test_two_relays_running_at_once_publish_each_event_exactly_once(
    committing_database: Database, broker_url: str, tap: EventTap
) -> None:
    written = write_user_events(committing_database.session_factory, users=150, per_user=2)
    first, second = RelayMetrics(), RelayMetrics()

    with (
        running_relay(committing_database, broker_url, batch_size=20, observer=first),
        running_relay(committing_database, broker_url, batch_size=20, observer=second),
    ):
        wait_until(lambda: pending_count(committing_database) == 0, what="every event sent")
        tap.wait_for(lambda events: len(events) >= len(written.event_ids))

    tap.drain()
    assert Counter(event.id for event in tap.events) == Counter(written.event_ids)
    assert in_user_order(tap.events)
    published = [
        metrics.registry.get_sample_value(
            "outbox_published_events_total", {"type": "identity.user.updated"}
        )
        for metrics in (first, second)
    ]
    assert all(published), published  # both took part (measured: about 150 each)


def _via(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_relay_publishes_every_event_exactly_once_when_the_broker_comes_back_after_an_outage(
    committing_database: Database, broker_url: str, tap: EventTap
) -> None:
    metrics = RelayMetrics()
    with (
        TcpProxy("127.0.0.1", urlsplit(broker_url).port or 5672) as proxy,
        running_relay(
            committing_database, _via(proxy, broker_url), max_backoff_seconds=0.5, observer=metrics
        ),
    ):
        before = write_user_events(committing_database.session_factory, users=5, per_user=2)
        tap.wait_for(lambda events: len(events) == len(before.event_ids))
        proxy.cut()
        during = write_user_events(committing_database.session_factory, users=10, per_user=2)
        wait_until(
            lambda: metrics.registry.get_sample_value(
                "outbox_relay_failures_total", {"reason": "broker"}
            ),
            what="the relay meeting the outage",
        )
        assert pending_count(committing_database) == len(
            during.event_ids
        )  # nothing is lost meanwhile
        proxy.restore()
        wait_until(
            lambda: pending_count(committing_database) == 0,
            what="every event sent after the outage",
        )

    tap.drain()
    assert Counter(event.id for event in tap.events) == Counter(before.event_ids + during.event_ids)
    assert in_user_order(tap.events)


def test_relay_counts_published_events_by_type_in_its_metrics(
    committing_database: Database, relay: Callable[..., OutboxRelay]
) -> None:
    write_user_events(committing_database.session_factory, users=2, per_user=3)
    metrics = RelayMetrics()

    relay(observer=metrics).relay_once()

    assert (
        metrics.registry.get_sample_value(
            "outbox_published_events_total", {"type": "identity.user.updated"}
        )
        == 6
    )


def test_relay_reports_pending_events_and_the_oldest_ones_age_when_it_measures_the_backlog(
    committing_database: Database, relay: Callable[..., OutboxRelay]
) -> None:
    write_user_events(committing_database.session_factory, users=1, per_user=4)
    clock = FakeClock()  # the clock the events were not written with: the real one is earlier
    metrics = RelayMetrics()
    outbox_relay = relay(observer=metrics, clock=clock)
    with committing_database.session_factory() as session:
        oldest = min(row.created_at for row in OutboxRepository(session).claim_pending(limit=10))
    clock.set(oldest)
    clock.advance(seconds=42)

    outbox_relay.measure_backlog()

    assert (
        metrics.registry.get_sample_value("outbox_pending_events"),
        metrics.registry.get_sample_value("outbox_oldest_pending_age_seconds"),
    ) == (4, 42)
