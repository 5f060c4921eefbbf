"""A RabbitMQ for integration tests: a virtual host of the test run's own on a real server.

The server is `TEST_BROKER_URL` (default `amqp://guest:guest@127.0.0.1:5672/`); `rabbitmqctl`
on this machine creates and deletes the vhost, so parallel runs never see each other's queues.
Without a reachable server or `rabbitmqctl`, callers skip with the reason; `REQUIRE_RABBITMQ=1`
(CI) turns that into a failure.
"""

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit, urlunsplit

from service_kit.events.broker import ITEMS_SUBSCRIPTION, Subscription, connect, declare_topology
from service_kit_testing.required import required

TEST_BROKER_URL_ENV = "TEST_BROKER_URL"
REQUIRE_RABBITMQ_ENV = "REQUIRE_RABBITMQ"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"


class RabbitMQUnavailableError(RuntimeError):
    """No RabbitMQ to test against; the message says what is missing."""


def rabbitmq_required() -> bool:
    return required(REQUIRE_RABBITMQ_ENV)


def _rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        raise RabbitMQUnavailableError("rabbitmqctl not found (apt-get install rabbitmq-server)")
    subprocess.run(  # noqa: S603 - the broker's own tool with our own arguments
        [tool, "-q", *args], check=True, capture_output=True, timeout=60
    )


@contextmanager
def rabbitmq_vhost(prefix: str = "test") -> Iterator[str]:
    """Yield an AMQP URL of a fresh vhost (guest has every permission); deleted afterwards.

    Raises:
        RabbitMQUnavailableError: no server answers, or `rabbitmqctl` is missing.
    """
    base = os.environ.get(TEST_BROKER_URL_ENV, DEFAULT_BROKER_URL)
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        raise RabbitMQUnavailableError(
            f"no RabbitMQ on {host}:{port} (set {TEST_BROKER_URL_ENV} or start rabbitmq-server)"
        ) from exc
    vhost = f"{prefix}-{uuid.uuid4().hex[:10]}"
    user = parts.username or "guest"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def empty_queues(url: str, subscription: Subscription = ITEMS_SUBSCRIPTION) -> str:
    """Declare the topology on the broker at `url` and empty the subscription's queue and its
    dead-letter queue (a test starts with neither holding a message); returns `url`."""
    with connect(url) as connection:
        declare_topology(connection)
        channel = connection.default_channel
        channel.queue_purge(subscription.queue)
        channel.queue_purge(subscription.dead_letter_queue)
    return url
