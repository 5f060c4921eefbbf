"""The broker side of integration events (kombu): topology, a confirmed publisher, a consumer
that retries and dead-letters, and the dead-letter queue's inspection and replay.

RabbitMQ in compose, Kubernetes and the tests (`amqp://...`); without one, an embedded
transport of the same library (`sqla+sqlite:///var/events.db`, kombu's SQLAlchemy transport)
so `make run` still delivers events. The embedded transport keeps exchange bindings in each
process's memory, so every process declares the whole topology (`declare_topology`) before it
publishes or consumes; on RabbitMQ that also means a queue exists before the first publish, so
nothing sent before the consumer's first start is dropped.

Retries are counted by the consumer (an `x-attempts` header on a re-published copy), not by
the broker, so they work the same on every transport: a message whose handler keeps failing is
tried `max_attempts` times, then moved to the subscription's dead-letter queue, and the
consumer goes on with the next one.
"""

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from kombu.connection import Connection
from kombu.entity import Exchange, Queue, binding
from kombu.message import Message
from kombu.messaging import Producer
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from service_kit import tracing
from service_kit.events.contract import (
    CONTENT_TYPE,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    CloudEvent,
    EventType,
)

logger = logging.getLogger(__name__)

EMBEDDED_POLLING_SECONDS: Final = 0.1
ATTEMPTS_HEADER: Final = "x-attempts"
ERROR_HEADER: Final = "x-last-error"
_ERROR_MAX: Final = 200


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer's durable queue, the event types bound to it, and its dead-letter queue."""

    queue: str
    event_types: tuple[EventType, ...]

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"


ITEMS_SUBSCRIPTION: Final = Subscription(
    "items.identity-events",
    (
        EventType.USER_DELETED,
        EventType.USER_UPDATED,
        EventType.SESSION_REVOKED,
        EventType.TOKENS_REVOKED,
        EventType.KEY_ROTATED,
        EventType.KEY_RETIRED,
    ),
)
SUBSCRIPTIONS: Final = (ITEMS_SUBSCRIPTION,)
"""Every consumer queue of the system: publishers declare them too (see the module docstring)."""


class BrokerUnavailableError(RuntimeError):
    """The broker could not be reached or refused a message; nothing was confirmed."""


def _exchange() -> Exchange:
    return Exchange(EXCHANGE, type="topic", durable=True)


def _dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def subscription_queue(subscription: Subscription) -> Queue:
    exchange = _exchange()
    return Queue(
        subscription.queue,
        bindings=[binding(exchange, routing_key=kind.value) for kind in subscription.event_types],
        durable=True,
    )


def dead_letter_queue(subscription: Subscription) -> Queue:
    return Queue(
        subscription.dead_letter_queue,
        exchange=_dead_letter_exchange(),
        routing_key=subscription.queue,
        durable=True,
    )


def declare_topology(connection: Connection) -> None:
    """Declare both exchanges, every subscription's queue and dead-letter queue (idempotent)."""
    channel = connection.default_channel
    _exchange()(channel).declare()
    _dead_letter_exchange()(channel).declare()
    for subscription in SUBSCRIPTIONS:
        subscription_queue(subscription)(channel).declare()
        dead_letter_queue(subscription)(channel).declare()


def connect(url: str) -> Connection:
    """A kombu connection (not yet opened): publisher confirms on AMQP; over TLS (`amqps://`),
    the broker's certificate must chain to a trusted CA and name the URL's host; for the
    embedded SQLite transport, its directory is created."""
    options: dict[str, Any] = {}
    tls: dict[str, Any] | bool = False
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        options["confirm_publish"] = True
    elif url.startswith("sqla+sqlite:///"):
        database = make_url(url.removeprefix("sqla+")).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("amqps://"):
        # kombu's bare `amqps://` checks the chain but not the host name (and sends no SNI), so
        # any certificate from a trusted CA would do; `server_hostname: None` is kombu's way of
        # saying "the URL's host".
        tls = {"server_hostname": None, "cert_reqs": ssl.CERT_REQUIRED}
    connection = Connection(
        url, transport_options=options, connect_timeout=5, heartbeat=30, ssl=tls
    )
    if url.startswith("sqla+"):
        # The embedded transport polls its table, once a second by default; its other options
        # all go to create_engine, so this one is set on the transport itself.
        connection.transport.polling_interval = EMBEDDED_POLLING_SECONDS
    return connection


def _connection_errors(connection: Connection) -> tuple[type[BaseException], ...]:
    return (
        *connection.connection_errors,
        *connection.channel_errors,
        OSError,
        TimeoutError,
    )


def _keep_alive(connection: Connection) -> None:
    """Heartbeats of a connection that only publishes: read what the broker sent (its
    heartbeats; nothing else arrives between publishes) and send ours when due. Without the
    read the connection would count as silent and fail its own heartbeat check; without the
    send the broker would drop it as dead."""
    with contextlib.suppress(TimeoutError):  # nothing was sent
        connection.drain_events(timeout=0.01)
    connection.heartbeat_check()


def describe(url: str) -> str:
    """The broker URL without its password, for logs."""
    return str(Connection(url).as_uri(include_password=False))


class EventPublisher:
    """Publishes envelopes as persistent messages and waits for the broker's confirm.

    One connection, opened on first use and reopened after a failure. Not thread-safe: one per
    thread (the relay has one). A confirm that does not come within `confirm_timeout_seconds`
    (a broker that blocks publishers, say, on a memory alarm) counts as not confirmed: the
    caller does not wait forever, and may publish the message again (at least once).
    """

    def __init__(self, url: str, *, confirm_timeout_seconds: float = 10) -> None:
        self._url = url
        self._confirm_timeout = confirm_timeout_seconds
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def publish(self, event: CloudEvent, *, traceparent: str | None = None) -> None:
        """Return once the broker has confirmed the message. With tracing on, the publish is a
        span continuing `traceparent` (the context the event was recorded in), and the message
        carries the span's own context in its `traceparent` header.

        Raises:
            BrokerUnavailableError: not confirmed (no broker, connection lost, nack).
        """
        producer = self._open()
        assert self._connection is not None  # noqa: S101 - set by _open
        headers: dict[str, Any] = {}
        try:
            with tracing.producer_span(
                f"send {event.type.value}",
                parent_traceparent=traceparent,
                headers=headers,
                attributes=_messaging_attributes(event, operation="send"),
            ):
                producer.publish(
                    event.to_json(),
                    exchange=EXCHANGE,
                    routing_key=event.type.value,
                    delivery_mode=2,
                    content_type=CONTENT_TYPE,
                    content_encoding="utf-8",
                    message_id=str(event.id),
                    headers=headers,
                    retry=False,
                    confirm_timeout=self._confirm_timeout,
                )
        except _connection_errors(self._connection) as exc:
            self._abandon()
            raise BrokerUnavailableError(f"publish not confirmed: {type(exc).__name__}") from exc

    def _open(self) -> Producer:
        if self._producer is not None:
            return self._producer
        connection = connect(self._url)
        try:
            connection.connect()
            declare_topology(connection)
        except _connection_errors(connection) as exc:
            connection.collect()  # no closing handshake with a broker that is not answering
            raise BrokerUnavailableError(f"cannot reach the broker: {type(exc).__name__}") from exc
        self._connection = connection
        self._producer = Producer(connection.default_channel, exchange=_exchange())
        return self._producer

    def _abandon(self) -> None:
        """Drop a connection that failed without the closing handshake, which a broker that
        stopped answering would never complete."""
        if self._connection is not None:
            try:
                self._connection.collect()
            except Exception:
                logger.debug("dropping a broken broker connection failed", exc_info=True)
        self._connection = None
        self._producer = None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                logger.debug("closing a broken broker connection failed", exc_info=True)
        self._connection = None
        self._producer = None


Handler = Callable[[CloudEvent], str | None]
"""Applies one event and commits; may return what it did (e.g. `duplicate`), else `applied`."""
Outcome = Callable[[str | None, str], None]
"""Called after each message with its event type (None if unreadable) and the outcome: what the
handler returned (`applied` by default), `retried`, `deferred` or `dead_lettered`."""
Transient = Callable[[Exception], bool]
"""Whether a handler's failure is about the consumer's own infrastructure (its database is
away), not about the message: such a message is put back and tried again later, uncounted."""


REPUBLISH_CONFIRM_TIMEOUT_SECONDS: Final = 10
"""How long a re-publish (retry, dead letter) waits for the broker's confirm; past it the
consumer reconnects and the message, not yet acked, is delivered again."""


class EventConsumer:
    """Consumes one subscription: each message is handled, then acked.

    The handler commits its effects (with an inbox row, so a redelivered message has no second
    effect) before it returns; the ack follows the commit, so a crash in between means a
    redelivery, never a loss. A handler that raises gets the message back (re-published with
    `x-attempts` + 1) until `max_attempts`, then the message goes to the dead-letter queue with
    the last error's class. A message that is not a known event goes there at once.

    A failure `is_transient` says is about the consumer's infrastructure (its database is
    unreachable) is not the message's fault: the message goes back to the queue without an
    attempt counted, and the consumer waits (backing off up to `max_backoff_seconds`) before
    it takes the next, so an outage does not empty the queue into the dead letters.
    """

    def __init__(
        self,
        url: str,
        subscription: Subscription,
        handler: Handler,
        *,
        max_attempts: int = 5,
        prefetch: int = 16,
        on_outcome: Outcome | None = None,
        retry_delay_seconds: float = 0.2,
        is_transient: Transient | None = None,
        transient_backoff_seconds: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        self._url = url
        self._subscription = subscription
        self._handler = handler
        self._max_attempts = max_attempts
        self._prefetch = prefetch
        self._on_outcome = on_outcome or (lambda _type, _outcome: None)
        self._retry_delay = retry_delay_seconds
        self._is_transient = is_transient or (lambda _exc: False)
        self._transient_backoff = transient_backoff_seconds
        self._deferrals = 0
        self._stop = threading.Event()
        self._producer: Producer | None = None

    def run(self, stop: threading.Event, *, max_backoff_seconds: float = 5) -> None:
        """Consume until `stop` is set, reconnecting with backoff while the broker is away.

        The wait starts at 0.5 s and doubles up to `max_backoff_seconds`: a broker back from an
        outage is consumed from again within that bound (like the relay's, 5 s), so the events
        that waited in the queue take effect seconds after it returns, not half a minute.
        """
        self._stop = stop
        backoff = 0.5
        while not stop.is_set():
            connection = connect(self._url)
            try:
                connection.connect()
                declare_topology(connection)
                logger.info(
                    "consuming",
                    extra={"queue": self._subscription.queue, "broker": describe(self._url)},
                )
                backoff = 0.5
                self._consume(connection, stop)
            except _connection_errors(connection) as exc:
                logger.warning(
                    "broker unavailable; reconnecting",
                    extra={"error": type(exc).__name__, "retry_in_seconds": backoff},
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff_seconds)
            finally:
                self._producer = None
                connection.release()

    def _consume(self, connection: Connection, stop: threading.Event) -> None:
        # Re-publishing (a retry, a dead letter) waits for the broker's confirm. On the
        # consuming connection that wait would also take the next deliveries and handle them
        # inside it; a nested re-publish could then take a confirm RabbitMQ sends for both
        # publishes at once (`multiple`), and the outer one would wait for it forever. So
        # re-publishes go through a connection of their own, which carries no deliveries.
        republishing = connect(self._url)
        try:
            declare_topology(republishing)  # the embedded transport keeps bindings per connection
            self._producer = Producer(republishing.default_channel)
            queue = subscription_queue(self._subscription)
            with connection.Consumer(
                [queue], on_message=self._on_message, prefetch_count=self._prefetch
            ):
                while not stop.is_set():
                    try:
                        connection.drain_events(timeout=1)
                    except TimeoutError:  # socket.timeout: no message within the second
                        connection.heartbeat_check()
                        _keep_alive(republishing)
        finally:
            self._producer = None
            republishing.release()

    def _on_message(self, message: Message) -> None:
        try:
            event = CloudEvent.from_json(_body(message))
        except ValidationError:
            logger.warning(
                "unreadable message dead-lettered",
                extra={"queue": message.delivery_info.get("routing_key")},
            )
            self._dead_letter(message, error="unreadable")
            self._on_outcome(None, "dead_lettered")
            return
        with tracing.consumer_span(
            f"process {event.type.value}",
            headers=message.headers,
            attributes=_messaging_attributes(event, operation="process"),
        ):
            try:
                outcome = self._handler(event)
            except Exception as exc:  # noqa: BLE001 - a handler's failure is retried, then parked
                tracing.record_failure(exc)
                failure: Exception | None = exc
            else:
                failure = None
        if failure is not None:  # handled outside the span: a deferral waits before it returns
            if self._is_transient(failure):
                self._defer(message, event, failure)
            else:
                self._fail(message, event, failure)
            return
        message.ack()
        self._deferrals = 0
        self._on_outcome(event.type.value, outcome or "applied")

    def _defer(self, message: Message, event: CloudEvent, exc: Exception) -> None:
        """Put the message back untouched and wait before taking another: the failure was the
        consumer's (its database), so counting it against the message would be wrong."""
        first, most = self._transient_backoff
        wait = min(first * 2**self._deferrals, most)
        if self._deferrals == 0:
            logger.warning(
                "event handler's infrastructure unavailable; waiting before the next attempt",
                extra={
                    "event_id": str(event.id),
                    "type": event.type.value,
                    "error": type(exc).__name__,
                },
            )
        self._deferrals += 1
        message.requeue()
        self._on_outcome(event.type.value, "deferred")
        self._stop.wait(wait)

    def _fail(self, message: Message, event: CloudEvent, exc: Exception) -> None:
        attempts = int(message.headers.get(ATTEMPTS_HEADER, 0)) + 1
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_MAX]
        if attempts >= self._max_attempts:
            logger.error(
                "event dead-lettered after %s attempts",
                attempts,
                extra={"event_id": str(event.id), "type": event.type.value, "error": error},
            )
            self._dead_letter(message, error=error, attempts=attempts)
            self._on_outcome(event.type.value, "dead_lettered")
            return
        logger.warning(
            "event failed; trying again",
            extra={"event_id": str(event.id), "type": event.type.value, "attempt": attempts},
        )
        time.sleep(self._retry_delay * attempts)
        self._republish(
            message,
            exchange="",
            routing_key=self._subscription.queue,
            attempts=attempts,
            error=error,
        )
        message.ack()
        self._on_outcome(event.type.value, "retried")

    def _dead_letter(self, message: Message, *, error: str, attempts: int | None = None) -> None:
        self._republish(
            message,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=self._subscription.queue,
            attempts=attempts
            if attempts is not None
            else int(message.headers.get(ATTEMPTS_HEADER, 0)),
            error=error,
        )
        message.ack()

    def _republish(
        self, message: Message, *, exchange: str, routing_key: str, attempts: int, error: str
    ) -> None:
        assert self._producer is not None  # noqa: S101 - set while consuming
        self._producer.publish(
            _body(message),
            exchange=exchange,
            routing_key=routing_key,
            delivery_mode=2,
            content_type=message.content_type or CONTENT_TYPE,
            content_encoding="utf-8",
            message_id=message.properties.get("message_id"),
            headers={**message.headers, ATTEMPTS_HEADER: attempts, ERROR_HEADER: error},
            retry=False,
            confirm_timeout=REPUBLISH_CONFIRM_TIMEOUT_SECONDS,
        )


def _messaging_attributes(event: CloudEvent, *, operation: str) -> dict[str, str]:
    """OpenTelemetry's messaging attributes of an event's span."""
    return {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": operation,
        "messaging.destination.name": EXCHANGE,
        "messaging.rabbitmq.destination.routing_key": event.type.value,
        "messaging.message.id": str(event.id),
        "cloudevents.event_type": event.type.value,
        "cloudevents.event_subject": event.subject,
    }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_id: str | None
    event_type: str | None
    attempts: int
    error: str | None
    body: bytes


@contextmanager
def _dead_letters(
    url: str, subscription: Subscription
) -> Iterator[tuple[Connection, list[tuple[Message, DeadLetter]]]]:
    """Every message of the dead-letter queue, taken without ack: whatever the caller does not
    ack goes back to the queue when the connection closes.

    Raises:
        BrokerUnavailableError: the broker cannot be reached.
    """
    connection = _open(url)
    try:
        queue = dead_letter_queue(subscription)(connection.default_channel)
        taken: list[tuple[Message, DeadLetter]] = []
        while (message := queue.get(no_ack=False, accept=None)) is not None:
            taken.append((message, _describe(message)))
        yield connection, taken
    finally:
        connection.release()


def _open(url: str) -> Connection:
    """A connected connection with the topology declared.

    Raises:
        BrokerUnavailableError: the broker cannot be reached.
    """
    connection = connect(url)
    try:
        connection.connect()
        declare_topology(connection)
    except _connection_errors(connection) as exc:
        connection.release()
        raise BrokerUnavailableError(f"cannot reach the broker: {type(exc).__name__}") from exc
    return connection


def _body(message: Message) -> bytes:
    """The raw body (transports hand it over as bytes or, decoded, as str)."""
    body = message.body
    return body.encode() if isinstance(body, str) else bytes(body)


def _describe(message: Message) -> DeadLetter:
    try:
        event = CloudEvent.from_json(_body(message))
        event_id, event_type = str(event.id), event.type.value
    except ValidationError:
        event_id, event_type = None, None
    return DeadLetter(
        event_id=event_id,
        event_type=event_type,
        attempts=int(message.headers.get(ATTEMPTS_HEADER, 0)),
        error=message.headers.get(ERROR_HEADER),
        body=_body(message),
    )


def dead_letter_count(url: str, subscription: Subscription) -> int:
    """How many messages the subscription's dead-letter queue holds.

    Raises:
        BrokerUnavailableError: the broker cannot be reached.
    """
    connection = _open(url)
    try:
        queue = dead_letter_queue(subscription)(connection.default_channel)
        return int(queue.queue_declare(passive=True).message_count)
    finally:
        connection.release()


def list_dead_letters(url: str, subscription: Subscription) -> list[DeadLetter]:
    """What the dead-letter queue holds, oldest first; the queue is left as it was."""
    with _dead_letters(url, subscription) as (_connection, taken):
        return [dead for _message, dead in taken]


def replay_dead_letters(
    url: str, subscription: Subscription, *, event_ids: set[str] | None = None
) -> list[DeadLetter]:
    """Put dead letters (all, or those with these event ids) back on the subscription's queue
    with a fresh attempt count; return what was replayed. Unreadable ones stay dead."""
    replayed: list[DeadLetter] = []
    with _dead_letters(url, subscription) as (connection, taken):
        producer = Producer(connection.default_channel)
        for message, dead in taken:
            if dead.event_id is None or (event_ids is not None and dead.event_id not in event_ids):
                continue
            producer.publish(
                dead.body,
                exchange="",
                routing_key=subscription.queue,
                delivery_mode=2,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                message_id=dead.event_id,
                retry=False,
            )
            message.ack()
            replayed.append(dead)
    return replayed
