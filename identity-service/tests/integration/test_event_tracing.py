"""An event recorded in a traced request keeps the request's trace context in its outbox row;
the relay publishes it in that trace, the envelope unchanged."""

import pytest
from sqlalchemy import select

from identity import create_app
from identity.models import OutboxEvent
from identity.services.outbox_service import OutboxRelay
from service_kit import tracing
from service_kit.db import Database
from service_kit.events.broker import EventPublisher
from service_kit_testing.event_tap import EventTap
from service_kit_testing.otlp import OtlpReceiver
from tests.conftest import make_settings

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def receiver(otlp_receiver: OtlpReceiver) -> OtlpReceiver:
    return otlp_receiver


def register(database: Database, endpoint: str | None, email: str) -> OutboxEvent:
    """Register `email` over HTTP, the caller sending TRACEPARENT; the event it recorded."""
    settings = make_settings(
        database_url=str(database.engine.url), otel_exporter_otlp_endpoint=endpoint
    )
    client = create_app(settings, database=database).test_client()
    answer = client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "correct horse battery"},
        headers={"traceparent": TRACEPARENT},
    )
    assert answer.status_code == 201, answer.json
    with database.session_factory() as session:
        return session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == "identity.user.registered")
        ).one()


def test_the_relay_publishes_an_event_in_the_trace_of_the_request_that_recorded_it(
    committing_database: Database, broker_url: str, receiver: OtlpReceiver
) -> None:
    row = register(committing_database, receiver.endpoint(), "traced@example.com")
    publisher = EventPublisher(broker_url)

    with EventTap(broker_url) as tap:
        OutboxRelay(committing_database.session_factory, publisher).relay_once()
        tap.wait_for(lambda events: len(events) == 1)
    publisher.close()

    tracing.flush()
    spans = receiver.wait_for(
        lambda spans: {"producer", "server"} <= {span.kind for span in spans}, timeout=10
    )
    request = next(span for span in spans if span.kind == "server")
    send = next(span for span in spans if span.kind == "producer")
    assert row.traceparent == f"00-{CALLER_TRACE}-{request.span_id}-01"
    assert (send.trace_id, send.parent_span_id) == (CALLER_TRACE, request.span_id)
    (tapped,) = tap.received
    assert tapped.properties["headers"]["traceparent"] == (f"00-{CALLER_TRACE}-{send.span_id}-01")
    assert b"traceparent" not in row.envelope.encode()  # the contract is the same either way


def test_without_tracing_an_event_records_no_trace_context(
    committing_database: Database,
) -> None:
    tracing.shut_down_tracing()

    row = register(committing_database, None, "untraced@example.com")

    assert row.traceparent is None
