"""A test's own view of what reaches the events exchange.

with EventTap(broker_url) as tap:   # a fresh queue bound to every event type
    ...                              # publish
    events = tap.wait_for(lambda received: len(received) >= 3)

Only messages published after the tap was opened reach it. Each message is taken once, so
duplicates show as repeated event ids.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from service_kit.events.broker import declare_topology
from service_kit.events.contract import EXCHANGE, CloudEvent


@dataclass(frozen=True, slots=True)
class Tapped:
    event: CloudEvent
    properties: dict[str, Any]
    """AMQP properties and delivery details: `delivery_mode`, `content_type`, `message_id`,
    `headers`..."""


class EventTap:
    """A queue bound with `#` to the events exchange, read with basic.get (no consumer)."""

    def __init__(self, url: str) -> None:
        self._connection = Connection(url)
        self._queue = Queue(
            f"test-tap-{uuid.uuid4().hex[:12]}",
            exchange=Exchange(EXCHANGE, type="topic", durable=True),
            routing_key="#",
            exclusive=True,  # deleted with the connection
        )
        self.received: list[Tapped] = []

    def __enter__(self) -> Self:
        self._connection.connect()
        declare_topology(self._connection)
        self._bound = self._queue(self._connection.default_channel)
        self._bound.declare()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._connection.release()

    def drain(self) -> list[CloudEvent]:
        """Take every message waiting now; return all events received so far."""
        while (message := self._bound.get(no_ack=True, accept=None)) is not None:
            self.received.append(
                Tapped(
                    CloudEvent.from_json(message.body),
                    {
                        **message.properties,
                        "content_type": message.content_type,
                        "routing_key": message.delivery_info.get("routing_key"),
                        "headers": dict(message.headers or {}),
                    },
                )
            )
        return self.events

    @property
    def events(self) -> list[CloudEvent]:
        return [tapped.event for tapped in self.received]

    def wait_for(
        self, condition: Callable[[list[CloudEvent]], bool], *, timeout: float = 30
    ) -> list[CloudEvent]:
        """Drain until `condition(events so far)` holds.

        Raises:
            AssertionError: it did not hold within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while not condition(self.drain()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"events tapped within {timeout} s did not satisfy the condition "
                    f"({len(self.received)} received)"
                )
            time.sleep(0.02)
        return self.events
