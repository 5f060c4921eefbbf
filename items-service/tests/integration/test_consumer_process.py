"""`flask --app items events consume` as a real process: a RabbitMQ vhost of this module's own,
a real PostgreSQL database of this module's own, signals and a kill."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from kombu.connection import Connection
from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from items.models import ErasureJob, InboxEvent, Item, RevocationFeedEntry
from service_kit.events.broker import (
    ITEMS_SUBSCRIPTION,
    EventPublisher,
    declare_topology,
    list_dead_letters,
)
from service_kit.events.contract import CloudEvent, Payload, SessionRevoked, UserDeleted
from service_kit_testing.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

WAIT_SECONDS = 20
MAX_ATTEMPTS = 2
T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], what: str, seconds: float = WAIT_SECONDS) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Consumer:
    """One `events consume` process; its output goes to a file."""

    process: subprocess.Popen[bytes]
    output: Path
    metrics_port: int

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def logged(self, event: str) -> list[dict[str, Any]]:
        lines = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == event:
                    lines.append(record)
        return lines

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text


@pytest.fixture
def amqp_url(broker_url: str) -> str:
    with Connection(broker_url) as connection:
        declare_topology(connection)
        connection.default_channel.queue_purge(ITEMS_SUBSCRIPTION.queue)
        connection.default_channel.queue_purge(ITEMS_SUBSCRIPTION.dead_letter_queue)
    return broker_url


@pytest.fixture(scope="module")
def engine(module_database_url: str) -> Iterator[Engine]:
    engine = create_engine(module_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def start_consumer(
    module_database_url: str, amqp_url: str, tmp_path: Path
) -> Iterator[Callable[..., Consumer]]:
    started: list[Consumer] = []

    def start(database_url: str = module_database_url, **settings: str) -> Consumer:
        port = free_port()
        output = tmp_path / f"consumer-{len(started)}.log"
        env = {key: value for key, value in os.environ.items() if not key.startswith("ITEMS_")}
        env.update(
            ITEMS_DATABASE_URL=database_url,
            ITEMS_EVENTS_BROKER_URL=amqp_url,
            ITEMS_EVENTS_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            ITEMS_LOG_LEVEL="INFO",
            **settings,
        )
        with output.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "items",
                    "events",
                    "consume",
                    "--metrics-port",
                    str(port),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        consumer = Consumer(process, output, port)
        started.append(consumer)
        wait_for(lambda: consumer.logged("consuming"), "the consumer connecting")
        return consumer

    yield start
    for consumer in started:
        if consumer.process.poll() is None:
            consumer.process.kill()
            consumer.process.wait(timeout=WAIT_SECONDS)


def publish(url: str, *events: CloudEvent) -> None:
    publisher = EventPublisher(url)
    try:
        for event in events:
            publisher.publish(event)
    finally:
        publisher.close()


def envelope(payload: Payload) -> CloudEvent:
    return CloudEvent.of(payload, event_id=uuid.uuid4(), time=datetime.now(UTC))


def session_revoked() -> CloudEvent:
    return envelope(
        SessionRevoked(user_id=uuid.uuid4(), sequence=1, session_ids=[uuid.uuid4()], reason="x")
    )


def inbox_rows(engine: Engine, event: CloudEvent) -> int:
    with Session(engine) as session:
        stmt = select(func.count()).select_from(InboxEvent).where(InboxEvent.event_id == event.id)
        return session.scalar(stmt) or 0


def revoked_sessions(engine: Engine, event: CloudEvent) -> list[uuid.UUID | None]:
    wanted = SessionRevoked.model_validate(event.data).session_ids
    with Session(engine) as session:
        stmt = select(RevocationFeedEntry.session_id).where(
            RevocationFeedEntry.session_id.in_(wanted)
        )
        return list(session.scalars(stmt))


def metric(text: str, name: str, **labels: str) -> float | None:
    rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    selector = f"{name}{{{rendered}}}" if labels else name
    match = re.search(rf"^{re.escape(selector)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


# --------------------------------------------------------------------------- applying


def test_consumer_applies_a_published_event_with_its_inbox_row(
    start_consumer: Callable[..., Consumer], amqp_url: str, engine: Engine
) -> None:
    start_consumer()
    event = session_revoked()

    publish(amqp_url, event)

    wait_for(lambda: revoked_sessions(engine, event), "the revocation in the feed")
    assert inbox_rows(engine, event) == 1


def test_consumer_applies_an_event_delivered_twice_once(
    start_consumer: Callable[..., Consumer], amqp_url: str, engine: Engine
) -> None:
    consumer = start_consumer()
    event = session_revoked()

    publish(amqp_url, event, event)

    wait_for(
        lambda: metric(
            consumer.metrics(),
            "integration_events_consumed_total",
            type="identity.session.revoked",
            outcome="duplicate",
        ),
        "the second delivery counted as a duplicate",
    )
    assert len(revoked_sessions(engine, event)) == 1
    assert inbox_rows(engine, event) == 1


def test_consumer_dead_letters_a_poison_event_and_applies_the_next(
    start_consumer: Callable[..., Consumer], amqp_url: str, engine: Engine
) -> None:
    start_consumer()
    good = session_revoked()
    poison = good.model_copy(update={"id": uuid.uuid4(), "data": {"user_id": str(uuid.uuid4())}})

    publish(amqp_url, poison, good)

    wait_for(lambda: revoked_sessions(engine, good), "the event after the poison applied")
    dead = wait_for(
        lambda: list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION), "the poison dead-lettered"
    )
    assert [(letter.event_id, letter.attempts) for letter in dead] == [
        (str(poison.id), MAX_ATTEMPTS)
    ]
    assert dead[0].error is not None
    assert dead[0].error.startswith("ValidationError")
    assert inbox_rows(engine, poison) == 0


def test_consumer_serves_counts_by_type_and_outcome_lag_and_dead_letters(
    start_consumer: Callable[..., Consumer], amqp_url: str, engine: Engine
) -> None:
    consumer = start_consumer()
    good = session_revoked()
    poison = good.model_copy(update={"id": uuid.uuid4(), "data": {}})

    publish(amqp_url, good, poison)
    wait_for(lambda: list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION), "the poison dead-lettered")

    text = consumer.metrics()
    kind = "identity.session.revoked"
    consumed = "integration_events_consumed_total"
    assert metric(text, consumed, type=kind, outcome="applied") == 1
    assert metric(text, consumed, type=kind, outcome="retried") == MAX_ATTEMPTS - 1
    assert metric(text, consumed, type=kind, outcome="dead_lettered") == 1
    assert metric(text, "integration_events_lag_seconds_count", type=kind) == 1
    assert "integration_events_dead_letters " in text


# --------------------------------------------------------------------------- stopping


def test_consumer_exits_0_having_logged_its_stop_when_sigterm_arrives(
    start_consumer: Callable[..., Consumer],
) -> None:
    consumer = start_consumer()

    consumer.process.send_signal(signal.SIGTERM)

    assert consumer.process.wait(timeout=WAIT_SECONDS) == 0
    assert consumer.logged("event consumer stopped")


def test_consumer_waits_out_a_database_outage_without_dead_lettering(
    start_consumer: Callable[..., Consumer],
    module_database_url: str,
    amqp_url: str,
    engine: Engine,
) -> None:
    url = make_url(module_database_url)
    event = session_revoked()
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        consumer = start_consumer(database_url=proxied)
        proxy.cut()

        publish(amqp_url, event)
        wait_for(
            lambda: consumer.logged(
                "event handler's infrastructure unavailable; waiting before the next attempt"
            ),
            "the consumer noticing the outage",
        )
        time.sleep(1)
        proxy.restore()

        wait_for(lambda: revoked_sessions(engine, event), "the event applied after the outage")
    assert list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION) == []


# --------------------------------------------------------------------------- erasure


ITEMS_OF_DELETED_USER = 600
ERASURE_BATCH = 20


def seed(engine: Engine, owner: uuid.UUID, count: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "public_id": uuid.uuid4(),
            "name": f"item {index}",
            "status": "draft",
            "owner_id": owner,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": now if index % 3 == 0 else None,  # a third soft-deleted
        }
        for index in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Item), rows)


def items_of(engine: Engine, owner: uuid.UUID) -> int:
    with Session(engine) as session:
        stmt = select(func.count()).select_from(Item).where(Item.owner_id == owner)
        return session.scalar(stmt) or 0


def erasure_job(engine: Engine, owner: uuid.UUID) -> ErasureJob | None:
    with Session(engine) as session:
        stmt = select(ErasureJob).where(ErasureJob.user_id == owner)
        return session.scalars(stmt).one_or_none()


def test_consumer_finishes_an_erasure_it_was_killed_in_the_middle_of(
    start_consumer: Callable[..., Consumer], amqp_url: str, engine: Engine
) -> None:
    owner, bystander = uuid.uuid4(), uuid.uuid4()
    seed(engine, owner, ITEMS_OF_DELETED_USER)
    seed(engine, bystander, 5)
    slow = {
        "ITEMS_EVENTS_ERASURE_BATCH_SIZE": str(ERASURE_BATCH),
        "ITEMS_EVENTS_ERASURE_PAUSE_SECONDS": "0.1",
    }
    first = start_consumer(**slow)
    publish(amqp_url, envelope(UserDeleted(user_id=owner, sequence=1)))
    wait_for(
        lambda: 0 < items_of(engine, owner) <= ITEMS_OF_DELETED_USER - 2 * ERASURE_BATCH,
        "a few batches erased",
    )

    first.process.kill()
    first.process.wait(timeout=WAIT_SECONDS)
    left = items_of(engine, owner)
    job = erasure_job(engine, owner)
    assert job is not None
    assert left > 0
    assert job.items_erased == ITEMS_OF_DELETED_USER - left  # progress committed with each batch

    start_consumer(**slow)

    wait_for(lambda: items_of(engine, owner) == 0, "the erasure finished", seconds=60)
    assert items_of(engine, bystander) == 5
    finished = erasure_job(engine, owner)
    assert finished is not None
    assert finished.items_erased == ITEMS_OF_DELETED_USER
