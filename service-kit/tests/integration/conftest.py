"""The brokers the event tests run on: RabbitMQ (a vhost of this package's own, emptied for
each test) and the embedded SQLite transport `make run` uses without one."""

from pathlib import Path

import pytest
from kombu.connection import Connection

from service_kit.events.broker import ITEMS_SUBSCRIPTION, declare_topology


def purge(url: str) -> None:
    with Connection(url) as connection:
        declare_topology(connection)
        channel = connection.default_channel
        channel.queue_purge(ITEMS_SUBSCRIPTION.queue)
        channel.queue_purge(ITEMS_SUBSCRIPTION.dead_letter_queue)


@pytest.fixture
def amqp_url(broker_url: str) -> str:
    purge(broker_url)
    return broker_url


@pytest.fixture
def embedded_url(tmp_path: Path) -> str:
    return f"sqla+sqlite:///{tmp_path}/events.db"


@pytest.fixture(params=["rabbitmq", "embedded"])
def url(request: pytest.FixtureRequest) -> str:
    name = "amqp_url" if request.param == "rabbitmq" else "embedded_url"
    value: str = request.getfixturevalue(name)
    return value
