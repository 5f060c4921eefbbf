"""Integration events over a real broker: RabbitMQ (a vhost of this module's own) and the
embedded SQLite transport `make run` uses without one."""

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from kombu.connection import Connection
from kombu.messaging import Producer

from service_kit.events.broker import (
    ITEMS_SUBSCRIPTION,
    BrokerUnavailableError,
    EventConsumer,
    EventPublisher,
    dead_letter_count,
    declare_topology,
    list_dead_letters,
    replay_dead_letters,
)
from service_kit.events.contract import EXCHANGE, CloudEvent, KeyRotated, UserDeleted
from service_kit_testing.tcp_proxy import TcpProxy

WAIT_SECONDS = 10


def user_deleted() -> CloudEvent:
    return CloudEvent.of(
        UserDeleted(user_id=uuid.uuid4(), sequence=1),
        event_id=uuid.uuid4(),
        time=datetime.now(UTC),
    )


class InfrastructureDownError(RuntimeError):
    """What a handler raises while its own database is away (a transient failure)."""


class Received:
    """A handler that records what it applied, failing for the event ids it is told to, or
    transiently for the next `transient_failures` calls; it returns `outcome`."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []
        self.failing: set[uuid.UUID] = set()
        self.transient_failures = 0
        self.outcome_to_return: str | None = None
        self.outcomes: list[tuple[str | None, str]] = []
        self._lock = threading.Lock()

    def __call__(self, event: CloudEvent) -> str | None:
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise InfrastructureDownError("database unreachable")
        if event.id in self.failing:
            raise RuntimeError("cannot apply this one")
        with self._lock:
            self.events.append(event)
        return self.outcome_to_return

    def outcome(self, event_type: str | None, outcome: str) -> None:
        with self._lock:
            self.outcomes.append((event_type, outcome))

    def wait_for(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert time.monotonic() < deadline, (self.events, self.outcomes)
            time.sleep(0.05)


@contextmanager
def consuming(url: str, received: Received, **options: object) -> Iterator[EventConsumer]:
    consumer = EventConsumer(
        url,
        ITEMS_SUBSCRIPTION,
        received,
        on_outcome=received.outcome,
        retry_delay_seconds=0.01,
        is_transient=lambda exc: isinstance(exc, InfrastructureDownError),
        transient_backoff_seconds=(0.01, 0.05),
        **options,  # type: ignore[arg-type]
    )
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), kwargs={"max_backoff_seconds": 1})
    thread.start()
    try:
        yield consumer
    finally:
        stop.set()
        thread.join(timeout=WAIT_SECONDS)
        assert not thread.is_alive()


def test_published_event_reaches_the_consumer_unchanged(url: str) -> None:
    event = user_deleted()
    received = Received()
    publisher = EventPublisher(url)

    with consuming(url, received):
        publisher.publish(event)
        received.wait_for(lambda: len(received.events) == 1)
    publisher.close()

    assert received.events == [event]
    assert received.outcomes == [(event.type.value, "applied")]


def test_consumer_reports_the_outcome_its_handler_returns(url: str) -> None:
    event = user_deleted()
    received = Received()
    received.outcome_to_return = "duplicate"
    publisher = EventPublisher(url)

    with consuming(url, received):
        publisher.publish(event)
        received.wait_for(lambda: len(received.outcomes) == 1)
    publisher.close()

    assert received.outcomes == [(event.type.value, "duplicate")]


def test_transient_failure_puts_the_event_back_uncounted_until_the_handler_recovers(
    url: str,
) -> None:
    event = user_deleted()
    received = Received()
    received.transient_failures = 4  # more than max_attempts: counted, it would be dead
    publisher = EventPublisher(url)

    with consuming(url, received, max_attempts=2):
        publisher.publish(event)
        received.wait_for(lambda: received.events == [event])
    publisher.close()

    assert [outcome for _type, outcome in received.outcomes] == ["deferred"] * 4 + ["applied"]
    assert list_dead_letters(url, ITEMS_SUBSCRIPTION) == []


def test_dead_letter_count_counts_the_messages_in_the_dead_letter_queue(url: str) -> None:
    poison = [user_deleted(), user_deleted()]
    received = Received()
    received.failing.update(event.id for event in poison)
    publisher = EventPublisher(url)
    with consuming(url, received, max_attempts=1):
        for event in poison:
            publisher.publish(event)
        received.wait_for(lambda: len(received.outcomes) == 2)
    publisher.close()

    assert dead_letter_count(url, ITEMS_SUBSCRIPTION) == 2


def test_event_published_before_any_consumer_ran_is_delivered_later(url: str) -> None:
    event = user_deleted()
    publisher = EventPublisher(url)
    publisher.publish(event)
    publisher.close()
    received = Received()

    with consuming(url, received):
        received.wait_for(lambda: len(received.events) == 1)

    assert received.events == [event]


def test_failing_event_is_dead_lettered_after_max_attempts_and_the_consumer_goes_on(
    url: str,
) -> None:
    poison, fine = user_deleted(), user_deleted()
    received = Received()
    received.failing.add(poison.id)
    publisher = EventPublisher(url)

    with consuming(url, received, max_attempts=3):
        publisher.publish(poison)
        publisher.publish(fine)
        received.wait_for(lambda: (poison.type.value, "dead_lettered") in received.outcomes)
        received.wait_for(lambda: received.events == [fine])
    publisher.close()

    dead = list_dead_letters(url, ITEMS_SUBSCRIPTION)
    assert [(letter.event_id, letter.attempts) for letter in dead] == [(str(poison.id), 3)]
    assert dead[0].error == "RuntimeError: cannot apply this one"
    assert [outcome for _type, outcome in received.outcomes].count("retried") == 2


def test_listing_dead_letters_leaves_them_in_the_queue(url: str) -> None:
    poison = user_deleted()
    received = Received()
    received.failing.add(poison.id)
    with consuming(url, received, max_attempts=1):
        publisher = EventPublisher(url)
        publisher.publish(poison)
        publisher.close()
        received.wait_for(lambda: received.outcomes == [(poison.type.value, "dead_lettered")])

    first = list_dead_letters(url, ITEMS_SUBSCRIPTION)
    second = list_dead_letters(url, ITEMS_SUBSCRIPTION)

    assert [letter.event_id for letter in first] == [str(poison.id)]
    assert second == first


def test_replayed_dead_letter_is_applied_once_the_handler_can(url: str) -> None:
    poison = user_deleted()
    received = Received()
    received.failing.add(poison.id)
    with consuming(url, received, max_attempts=1):
        publisher = EventPublisher(url)
        publisher.publish(poison)
        publisher.close()
        received.wait_for(lambda: received.outcomes == [(poison.type.value, "dead_lettered")])
    received.failing.clear()

    replayed = replay_dead_letters(url, ITEMS_SUBSCRIPTION)
    with consuming(url, received):
        received.wait_for(lambda: received.events == [poison])

    assert [letter.event_id for letter in replayed] == [str(poison.id)]
    assert list_dead_letters(url, ITEMS_SUBSCRIPTION) == []


def test_consumer_keeps_going_when_many_failing_events_arrive_back_to_back(url: str) -> None:
    """Each failure is re-published (dead-lettered here) and waits for the broker's confirm
    while more deliveries arrive: the wait must not take them on the same connection, where a
    nested re-publish could take the confirm (RabbitMQ may confirm several publishes at once)
    that the outer one is waiting for, and hang the consumer."""
    events = [user_deleted() for _ in range(40)]
    received = Received()
    received.failing.update(event.id for event in events)
    publisher = EventPublisher(url)
    with consuming(url, received, max_attempts=1):
        for event in events:
            publisher.publish(event)
        received.wait_for(lambda: len(received.outcomes) == len(events))
    publisher.close()

    assert dead_letter_count(url, ITEMS_SUBSCRIPTION) == len(events)


def test_replay_of_chosen_ids_leaves_the_other_dead_letters(url: str) -> None:
    first, second = user_deleted(), user_deleted()
    received = Received()
    received.failing.update({first.id, second.id})
    publisher = EventPublisher(url)
    with consuming(url, received, max_attempts=1):
        publisher.publish(first)
        publisher.publish(second)
        received.wait_for(lambda: len(received.outcomes) == 2)
    publisher.close()

    replay_dead_letters(url, ITEMS_SUBSCRIPTION, event_ids={str(second.id)})

    assert [letter.event_id for letter in list_dead_letters(url, ITEMS_SUBSCRIPTION)] == [
        str(first.id)
    ]


def test_unreadable_message_is_dead_lettered_at_once(url: str) -> None:
    received = Received()
    with Connection(url) as connection:
        declare_topology(connection)
        Producer(connection.default_channel).publish(
            b"{not an event", exchange=EXCHANGE, routing_key="identity.user.deleted"
        )

    with consuming(url, received):
        received.wait_for(lambda: received.outcomes == [(None, "dead_lettered")])

    dead = list_dead_letters(url, ITEMS_SUBSCRIPTION)
    assert [(letter.event_id, letter.error) for letter in dead] == [(None, "unreadable")]
    assert received.events == []


def test_events_of_types_a_subscription_did_not_bind_do_not_reach_it(amqp_url: str) -> None:
    registered = CloudEvent(
        id=uuid.uuid4(),
        type="identity.user.registered",  # type: ignore[arg-type]
        time=datetime.now(UTC),
        subject=str(uuid.uuid4()),
        data={"user_id": str(uuid.uuid4()), "sequence": 1, "role": "user", "is_active": True},
    )
    rotated = CloudEvent.of(KeyRotated(kid="k1"), event_id=uuid.uuid4(), time=datetime.now(UTC))
    received = Received()
    publisher = EventPublisher(amqp_url)

    with consuming(amqp_url, received):
        publisher.publish(registered)
        publisher.publish(rotated)
        received.wait_for(lambda: len(received.events) == 1)
    publisher.close()

    assert received.events == [rotated]


def test_publish_raises_broker_unavailable_when_no_broker_answers() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        publisher = EventPublisher(f"amqp://guest:guest@127.0.0.1:{port}//")

        with pytest.raises(BrokerUnavailableError):
            publisher.publish(user_deleted())


def _via(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))


def test_publisher_recovers_on_the_next_publish_when_the_broker_comes_back(
    amqp_url: str,
) -> None:
    event = user_deleted()
    with TcpProxy("127.0.0.1", urlsplit(amqp_url).port or 5672) as proxy:
        publisher = EventPublisher(_via(proxy, amqp_url))
        publisher.publish(user_deleted())
        proxy.cut()
        with pytest.raises(BrokerUnavailableError):
            publisher.publish(event)
        proxy.restore()

        publisher.publish(event)
        publisher.close()

    received = Received()
    with consuming(amqp_url, received):
        received.wait_for(lambda: len(received.events) == 2)
    assert received.events[-1] == event


def test_publish_raises_broker_unavailable_when_the_confirm_does_not_come_in_time(
    amqp_url: str,
) -> None:
    with TcpProxy("127.0.0.1", urlsplit(amqp_url).port or 5672) as proxy:
        publisher = EventPublisher(_via(proxy, amqp_url), confirm_timeout_seconds=0.5)
        publisher.publish(user_deleted())  # connected
        proxy.stall()
        started = time.monotonic()

        with pytest.raises(BrokerUnavailableError):
            publisher.publish(user_deleted())

        assert time.monotonic() - started < 5
        publisher.close()


def test_consumer_reconnects_and_goes_on_when_its_connection_is_cut(amqp_url: str) -> None:
    before, after = user_deleted(), user_deleted()
    received = Received()
    publisher = EventPublisher(amqp_url)
    with (
        TcpProxy("127.0.0.1", urlsplit(amqp_url).port or 5672) as proxy,
        consuming(_via(proxy, amqp_url), received),
    ):
        publisher.publish(before)
        received.wait_for(lambda: received.events == [before])
        proxy.cut()
        time.sleep(0.5)
        proxy.restore()
        publisher.publish(after)
        received.wait_for(lambda: received.events == [before, after])
    publisher.close()
