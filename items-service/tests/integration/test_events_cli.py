"""`flask --app items events prune | dead list | dead replay` through the CLI runner, against
real PostgreSQL and a RabbitMQ vhost of this module's own. (`events consume` runs as a real
process: tests/integration/test_consumer_process.py.)"""

import json
import uuid

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner
from kombu.connection import Connection
from kombu.messaging import Producer
from sqlalchemy import select
from sqlalchemy.orm import Session

from items import create_app
from items.models import RevocationFeedEntry
from items.services.event_service import IdentityEventService
from service_kit.db import Database
from service_kit.events.broker import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ITEMS_SUBSCRIPTION,
    declare_topology,
    list_dead_letters,
)
from service_kit.events.contract import (
    CONTENT_TYPE,
    DEAD_LETTER_EXCHANGE,
    CloudEvent,
    SessionRevoked,
)
from service_kit_testing import FakeClock
from service_kit_testing.rabbitmq import empty_queues
from tests.conftest import TokenIssuer, make_settings


@pytest.fixture
def amqp_url(broker_url: str) -> str:
    return empty_queues(broker_url)


@pytest.fixture
def runner(
    database_url: str,
    amqp_url: str,
    rollback_database: Database,
    clock: FakeClock,
    issuer: TokenIssuer,
) -> FlaskCliRunner:
    settings = make_settings(database_url=database_url, events_broker_url=amqp_url)
    app = create_app(settings, clock=clock, database=rollback_database, keys=issuer)
    return app.test_cli_runner()


def invoke(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(args=["events", *args])


def revoked(clock: FakeClock) -> CloudEvent:
    payload = SessionRevoked(
        user_id=uuid.uuid4(), sequence=1, session_ids=[uuid.uuid4()], reason="logout"
    )
    return CloudEvent.of(payload, event_id=uuid.uuid4(), time=clock.now())


def dead_letter(url: str, event: CloudEvent, *, attempts: int = 5) -> None:
    """Put `event` on the dead-letter queue as the consumer does after its last attempt."""
    with Connection(url) as connection:
        declare_topology(connection)
        Producer(connection.default_channel).publish(
            event.to_json(),
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=ITEMS_SUBSCRIPTION.queue,
            delivery_mode=2,
            content_type=CONTENT_TYPE,
            content_encoding="utf-8",
            message_id=str(event.id),
            headers={ATTEMPTS_HEADER: attempts, ERROR_HEADER: "RuntimeError: boom"},
        )


def queued_event_ids(url: str) -> list[str]:
    """Take every message off the subscription's queue; their event ids."""
    ids = []
    with Connection(url) as connection:
        simple = connection.SimpleQueue(ITEMS_SUBSCRIPTION.queue, no_ack=True)
        try:
            while True:
                message = simple.get_nowait()
                ids.append(str(CloudEvent.from_json(message.body).id))
        except simple.Empty:
            pass
        finally:
            simple.close()
    return ids


# --------------------------------------------------------------------------- prune


def test_events_prune_deletes_expired_revocations_and_says_how_many(
    runner: FlaskCliRunner, session: Session, clock: FakeClock
) -> None:
    service = IdentityEventService(session, revocation_lifetime_seconds=930, clock=clock)
    service.apply(revoked(clock))
    clock.advance(seconds=931)
    kept = revoked(clock)
    service.apply(kept)

    result = invoke(runner, "prune")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "deleted 1 revocations and 0 inbox events"
    session.expire_all()
    remaining = session.scalars(select(RevocationFeedEntry.session_id)).all()
    assert remaining == SessionRevoked.model_validate(kept.data).session_ids


# --------------------------------------------------------------------------- dead letters


def test_events_dead_list_shows_each_dead_letters_id_type_attempts_and_error(
    runner: FlaskCliRunner, amqp_url: str, clock: FakeClock
) -> None:
    event = revoked(clock)
    dead_letter(amqp_url, event, attempts=5)

    result = invoke(runner, "dead", "list", "--json")

    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == [
        {
            "event_id": str(event.id),
            "type": "identity.session.revoked",
            "attempts": 5,
            "error": "RuntimeError: boom",
        }
    ]
    assert len(list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION)) == 1  # still there


def test_events_dead_list_counts_the_dead_letters_when_printing_lines(
    runner: FlaskCliRunner, amqp_url: str, clock: FakeClock
) -> None:
    event = revoked(clock)
    dead_letter(amqp_url, event)

    result = invoke(runner, "dead", "list")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{event.id}  identity.session.revoked  attempts=5")
    assert lines[-1] == "1 dead letters"


def test_events_dead_replay_requeues_only_the_chosen_event(
    runner: FlaskCliRunner, amqp_url: str, clock: FakeClock
) -> None:
    chosen, other = revoked(clock), revoked(clock)
    dead_letter(amqp_url, chosen)
    dead_letter(amqp_url, other)

    result = invoke(runner, "dead", "replay", "--event-id", str(chosen.id))

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "replayed 1 dead letters"
    assert queued_event_ids(amqp_url) == [str(chosen.id)]
    assert [d.event_id for d in list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION)] == [str(other.id)]


def test_events_dead_replay_requeues_every_dead_letter_when_all_is_given(
    runner: FlaskCliRunner, amqp_url: str, clock: FakeClock
) -> None:
    events = [revoked(clock), revoked(clock)]
    for event in events:
        dead_letter(amqp_url, event)

    result = invoke(runner, "dead", "replay", "--all")

    assert result.exit_code == 0, result.output
    assert sorted(queued_event_ids(amqp_url)) == sorted(str(event.id) for event in events)
    assert list_dead_letters(amqp_url, ITEMS_SUBSCRIPTION) == []


def test_events_dead_replay_fails_naming_the_ids_that_are_not_dead_letters(
    runner: FlaskCliRunner, amqp_url: str, clock: FakeClock
) -> None:
    event = revoked(clock)
    dead_letter(amqp_url, event)
    unknown = uuid.uuid4()

    result = invoke(
        runner, "dead", "replay", "--event-id", str(event.id), "--event-id", str(unknown)
    )

    assert result.exit_code == 1
    assert "replayed 1 dead letters" in result.output
    assert f"not in the dead-letter queue: {unknown}" in result.output


@pytest.mark.parametrize(
    "arguments",
    [[], ["--all", "--event-id", "0b8f7c4e-3d0a-4a57-9a55-7d5f5c1e2a10"]],
    ids=["neither", "both"],
)
def test_events_dead_replay_refuses_when_not_given_exactly_one_of_event_id_and_all(
    runner: FlaskCliRunner, arguments: list[str]
) -> None:
    result = invoke(runner, "dead", "replay", *arguments)

    assert result.exit_code == 2
    assert "give --event-id ID (one or more) or --all" in result.output


def test_events_dead_list_fails_with_a_message_when_the_broker_is_unreachable(
    database_url: str, rollback_database: Database, clock: FakeClock, issuer: TokenIssuer
) -> None:
    settings = make_settings(
        database_url=database_url, events_broker_url="amqp://guest:guest@127.0.0.1:9//"
    )
    app = create_app(settings, clock=clock, database=rollback_database, keys=issuer)

    result = invoke(app.test_cli_runner(), "dead", "list")

    assert result.exit_code == 1
    assert "cannot reach the broker" in result.output
