"""Traces as a collector receives them (an OTLP/HTTP receiver in the test): a request continues
the caller's trace, its statements are its children, an event's publish and consume continue
the trace of the work that recorded it, and nothing is traced without an endpoint."""

import json
import logging
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from flask import Flask, request
from sqlalchemy import text

from service_kit import tracing
from service_kit.events.broker import EventPublisher
from service_kit.events.contract import CloudEvent, UserDeleted
from service_kit.http.db import get_session
from service_kit.http.openapi import ViewResult
from service_kit.logging import JsonFormatter
from service_kit.security.jwks_client import fetch_jwks
from service_kit_testing.otlp import OtlpReceiver, Span
from tests.apps import service_app
from tests.integration.test_event_broker import Received, consuming

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
WAIT_SECONDS = 10


@pytest.fixture
def receiver(otlp_receiver: OtlpReceiver) -> OtlpReceiver:
    return otlp_receiver


def make_app(endpoint: str | None) -> Flask:
    app = service_app(title="traced-service", otel_exporter_otlp_endpoint=endpoint)

    @app.get("/api/v1/keys")
    def keys() -> ViewResult:
        return fetch_jwks(request.args["from"], 5)

    @app.get("/api/v1/broken")
    def broken() -> ViewResult:
        get_session().execute(text("select * from no_such_table"))
        return {}

    @app.get("/api/v1/answer")
    def answer() -> ViewResult:
        get_session().execute(text("select 42"))
        record = logging.LogRecord("test", logging.INFO, __file__, 1, "answered", None, None)
        return {"log_line": json.loads(JsonFormatter().format(record))}

    return app


def exported(receiver: OtlpReceiver, count: int) -> list[Span]:
    tracing.flush()
    return receiver.wait_for(lambda spans: len(spans) >= count, timeout=WAIT_SECONDS)


def test_a_request_continues_the_callers_trace_and_its_statements_are_its_children(
    receiver: OtlpReceiver,
) -> None:
    client = make_app(receiver.endpoint()).test_client()

    response = client.get(
        "/api/v1/answer", headers={"traceparent": TRACEPARENT, "X-Request-ID": "req-12345678"}
    )

    assert response.status_code == 200
    spans = exported(receiver, 2)
    (server,) = [span for span in spans if span.kind == "server"]
    assert (server.service, server.name) == ("traced-service", "GET /api/v1/answer")
    assert (server.trace_id, server.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert server.attributes["http.request.id"] == "req-12345678"
    (statement,) = [span for span in spans if span.attributes.get("db.statement") == "select 42"]
    assert (statement.kind, statement.trace_id) == ("client", CALLER_TRACE)
    assert statement.parent_span_id == server.span_id
    log_line = response.get_json()["log_line"]
    assert (log_line["trace_id"], log_line["span_id"]) == (CALLER_TRACE, server.span_id)
    assert log_line["request_id"] == "req-12345678"


class _JwksServer(BaseHTTPRequestHandler):
    """Answers an empty JWKS and keeps the `traceparent` each request came with."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("traceparent"))
        body = b'{"keys": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_outgoing_call_is_a_child_span_and_carries_its_context(receiver: OtlpReceiver) -> None:
    client = make_app(receiver.endpoint()).test_client()
    _JwksServer.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        response = client.get(
            "/api/v1/keys", query_string={"from": jwks_url}, headers={"traceparent": TRACEPARENT}
        )
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    spans = exported(receiver, 2)
    (incoming,) = [span for span in spans if span.kind == "server"]
    (outgoing,) = [span for span in spans if span.kind == "client"]
    assert (outgoing.name, outgoing.parent_span_id) == ("GET", incoming.span_id)
    assert _JwksServer.seen == [f"00-{CALLER_TRACE}-{outgoing.span_id}-01"]


def test_spans_hold_no_query_string_and_no_database_error_text(receiver: OtlpReceiver) -> None:
    client = make_app(receiver.endpoint()).test_client()

    searched = client.get("/api/v1/answer?q=alice@example.com&next=/metrics")
    failed = client.get("/api/v1/broken")

    assert (searched.status_code, failed.status_code) == (200, 500)
    spans = exported(receiver, 4)
    (search,) = [span for span in spans if span.name == "GET /api/v1/answer"]
    assert search.attributes["http.target"] == "/api/v1/answer"  # traced, without its query
    assert "alice" not in json.dumps(
        [span.attributes for span in spans if span.trace_id == search.trace_id]
    )
    (statement,) = [span for span in spans if span.status_code == 2 and span.kind == "client"]
    assert statement.status_message == "OperationalError"  # not "no such table: no_such_table"


def test_the_share_of_traces_kept_applies_to_a_sampled_caller_too(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    client = make_app(receiver.endpoint()).test_client()

    assert client.get("/api/v1/answer", headers={"traceparent": TRACEPARENT}).status_code == 200

    tracing.flush()
    threading.Event().wait(0.3)
    assert receiver.spans == []


def test_a_call_no_request_or_message_made_starts_no_trace(receiver: OtlpReceiver) -> None:
    make_app(receiver.endpoint())  # tracing on in this process
    _JwksServer.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fetch_jwks(f"http://127.0.0.1:{server.server_address[1]}/jwks.json", 5)  # a refresh
        client = make_app(receiver.endpoint()).test_client()
        client.get("/api/v1/answer")  # a marker: once its spans are in, the call's would be
    finally:
        server.shutdown()
        server.server_close()

    spans = exported(receiver, 2)
    assert [span.kind for span in spans if span.parent_span_id == ""] == ["server"]
    assert "GET" not in {span.name for span in spans}


def test_a_request_without_a_traceparent_starts_a_trace(receiver: OtlpReceiver) -> None:
    client = make_app(receiver.endpoint()).test_client()

    client.get("/api/v1/answer")

    (server,) = [span for span in exported(receiver, 2) if span.kind == "server"]
    assert server.parent_span_id == ""
    assert server.trace_id != CALLER_TRACE


def test_a_request_its_caller_did_not_sample_exports_nothing(receiver: OtlpReceiver) -> None:
    client = make_app(receiver.endpoint()).test_client()

    unsampled = client.get("/api/v1/answer", headers={"traceparent": TRACEPARENT[:-2] + "00"})
    client.get("/api/v1/answer")  # a marker: once its spans are in, the others would be too

    assert unsampled.status_code == 200
    assert unsampled.get_json()["log_line"]["trace_id"] == CALLER_TRACE  # still in the logs
    spans = exported(receiver, 2)
    assert CALLER_TRACE not in {span.trace_id for span in spans}
    assert [span.kind for span in spans].count("server") == 1


def test_probes_and_work_outside_a_request_or_message_start_no_trace(
    receiver: OtlpReceiver,
) -> None:
    app = make_app(receiver.endpoint())
    client = app.test_client()

    assert client.get("/health/ready").status_code == 200
    assert client.get("/metrics").status_code == 200
    with app.app_context():
        get_session().execute(text("select 1"))  # as a CLI command or the relay's polling would
    client.get("/api/v1/answer")  # a marker: once its spans are in, the others would be too

    spans = exported(receiver, 2)
    assert {span.name for span in spans if span.kind == "server"} == {"GET /api/v1/answer"}
    statements = [span.attributes.get("db.statement") for span in spans if span.kind == "client"]
    assert "select 1" not in statements
    assert "select 42" in statements


def user_deleted() -> CloudEvent:
    return CloudEvent.of(
        UserDeleted(user_id=uuid.uuid4(), sequence=1), event_id=uuid.uuid4(), time=datetime.now(UTC)
    )


def relayed(
    receiver: OtlpReceiver,
    url: str,
    event: CloudEvent,
    *,
    traceparent: str | None,
    fails: bool = False,
) -> tuple[Span, Span, Received]:
    """Publish `event` with tracing on, as recorded in `traceparent`, and consume it (the
    handler fails it once, for good, when `fails`): the `send` and `process` spans, and what
    the handler received."""
    tracing.configure_tracing(
        endpoint=receiver.endpoint(), service_name="traced-service", service_version="1"
    )
    received = Received()
    if fails:
        received.failing.add(event.id)
    publisher = EventPublisher(url)
    with consuming(url, received, max_attempts=1):
        publisher.publish(event, traceparent=traceparent)
        received.wait_for(lambda: len(received.outcomes) == 1)
    publisher.close()
    spans = exported(receiver, 2)
    send = next(span for span in spans if span.kind == "producer")
    process = next(span for span in spans if span.kind == "consumer")
    return send, process, received


def test_publish_and_consume_continue_the_trace_that_recorded_the_event(
    receiver: OtlpReceiver, url: str
) -> None:
    event = user_deleted()

    send, process, received = relayed(receiver, url, event, traceparent=TRACEPARENT)

    assert send.name == "send identity.user.deleted"
    assert (send.trace_id, send.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert send.attributes["messaging.message.id"] == str(event.id)
    assert process.name == "process identity.user.deleted"
    assert (process.trace_id, process.parent_span_id) == (CALLER_TRACE, send.span_id)
    assert process.status_code == 0
    assert received.events == [event]  # the envelope is the same with tracing on or off


def test_an_event_recorded_untraced_starts_a_trace_at_its_publish(
    receiver: OtlpReceiver, url: str
) -> None:
    event = user_deleted()

    send, process, received = relayed(receiver, url, event, traceparent=None, fails=True)

    assert send.parent_span_id == ""
    assert (process.trace_id, process.parent_span_id) == (send.trace_id, send.span_id)
    assert process.status_code == 2  # the handler's failure marks the span
    assert process.status_message == "RuntimeError"
    assert process.events == [("exception", {"exception.type": "builtins.RuntimeError"})]
    assert received.outcomes == [(event.type.value, "dead_lettered")]


def test_without_an_endpoint_a_request_is_not_traced_however_its_caller_asks(
    receiver: OtlpReceiver,
) -> None:
    app = make_app(None)

    @app.get("/api/v1/context")
    def context() -> ViewResult:
        return {"traceparent": tracing.current_traceparent()}

    client = app.test_client()
    answered = client.get("/api/v1/answer", headers={"traceparent": TRACEPARENT})
    context_seen = client.get("/api/v1/context", headers={"traceparent": TRACEPARENT})

    assert not tracing.is_enabled()
    assert "trace_id" not in answered.get_json()["log_line"]
    assert context_seen.get_json() == {"traceparent": None}  # an event would record none


def test_without_an_endpoint_a_process_never_loads_opentelemetry() -> None:
    program = """
import sys
from service_kit.config import ServiceSettings
from service_kit.db.session import Database
from service_kit.events.contract import CloudEvent, KeyRotated
from service_kit.http.app import create_service_app
settings = ServiceSettings(_env_file=None, env="test", database_url="sqlite://")
app = create_service_app(
    "probe", settings=settings, database=Database("sqlite://"), title="t", version="0",
    description="",
)
app.get("/probe")(lambda: {"ok": True})
assert app.test_client().get("/probe").status_code == 200
CloudEvent.of(KeyRotated(kid="k"), event_id=__import__("uuid").uuid4(),
              time=__import__("datetime").datetime.now(__import__("datetime").UTC)).to_json()
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""
    # A process of its own: this one has loaded OpenTelemetry for the other tests.
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.splitlines()[-1] == "[]"
