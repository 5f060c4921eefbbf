"""The brokers the event tests run on: RabbitMQ (a vhost of this package's own, emptied for
each test) and the embedded SQLite transport `make run` uses without one."""

from pathlib import Path

import pytest

from service_kit_testing.rabbitmq import empty_queues


@pytest.fixture
def amqp_url(broker_url: str) -> str:
    return empty_queues(broker_url)


@pytest.fixture
def embedded_url(tmp_path: Path) -> str:
    return f"sqla+sqlite:///{tmp_path}/events.db"


@pytest.fixture(params=["rabbitmq", "embedded"])
def url(request: pytest.FixtureRequest) -> str:
    name = "amqp_url" if request.param == "rabbitmq" else "embedded_url"
    value: str = request.getfixturevalue(name)
    return value
