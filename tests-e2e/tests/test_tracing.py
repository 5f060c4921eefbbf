"""Distributed tracing across the stack: the services export their spans to the test run's OTLP
receiver (`stack.traces`), and one trace runs from the gateway through identity, the outbox
relay and the broker to items' consumer. The native stack traces; compose runs with tracing off
(`docker compose up`'s default), so these tests are for the native mode."""

import json
import secrets

import pytest
import requests
from e2e.api_client import unique_email
from e2e.stack import Stack

from service_kit_testing.otlp import Span, children

WAIT_SECONDS = 20

pytestmark = pytest.mark.modes("native")


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _wait_for_trace(stack: Stack, trace_id: str, *names: str) -> list[Span]:
    """The spans of a trace received once it holds a span of each name (each process exports
    its own spans, in batches: they arrive in no particular order)."""

    def complete(spans: list[Span]) -> bool:
        return set(names) <= {span.name for span in spans if span.trace_id == trace_id}

    assert stack.traces is not None
    spans = stack.traces.wait_for(complete, timeout=WAIT_SECONDS)
    return [span for span in spans if span.trace_id == trace_id]


def _one(spans: list[Span], *, kind: str, name: str) -> Span:
    found = [span for span in spans if span.kind == kind and span.name == name]
    assert len(found) == 1, spans
    return found[0]


def test_one_trace_runs_from_the_gateway_through_identity_and_the_relay_to_the_consumer(
    stack: Stack,
) -> None:
    tokens = _new_session(stack)
    trace_id, caller_span, traceparent = _traceparent()

    reply = requests.post(  # ends the session: identity records `session.revoked` for items
        f"{stack.base_url}/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"traceparent": traceparent, "Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )

    assert reply.status_code == 204, reply.text
    trace = _wait_for_trace(
        stack,
        trace_id,
        "POST /api/v1/auth/logout",
        "send identity.session.revoked",
        "process identity.session.revoked",
    )
    request = _one(trace, kind="server", name="POST /api/v1/auth/logout")
    send = _one(trace, kind="producer", name="send identity.session.revoked")
    process = _one(trace, kind="consumer", name="process identity.session.revoked")
    # The gateway's span sits between the caller and identity; its id is the tail of nginx's
    # request id, which the gateway returns as X-Request-ID when the client sent none.
    assert request.parent_span_id == reply.headers["X-Request-ID"][-16:] != caller_span
    assert request.service == "identity-service"
    assert request.attributes["http.request.id"] == reply.headers["X-Request-ID"]
    assert any(
        "UPDATE" in str(span.attributes.get("db.statement")) for span in children(trace, request)
    )
    assert send.parent_span_id == request.span_id  # the relay continues the recorded context
    assert (process.service, process.parent_span_id) == ("items-service", send.span_id)
    assert children(trace, process), "the consumer's statements belong to its span"
    handled = [
        line
        for line in map(_json_or_none, stack.service_logs("items-consumer").splitlines())
        if line
        and line.get("event") == "identity event handled"
        and line.get("trace_id") == trace_id
    ]
    assert [line["span_id"] for line in handled] == [process.span_id]


def _new_session(stack: Stack) -> dict[str, str]:
    """A new user's first tokens (access and refresh)."""
    email, password = unique_email(), "correct horse battery"
    requests.post(
        f"{stack.base_url}/api/v1/auth/register",
        json={"email": email, "password": password},
        timeout=10,
    ).raise_for_status()
    login = requests.post(
        f"{stack.base_url}/api/v1/auth/login",
        json={"email": email, "password": password},
        timeout=10,
    )
    login.raise_for_status()
    tokens: dict[str, str] = login.json()
    return tokens


def test_a_request_to_items_is_a_trace_from_the_gateway_with_its_statements_and_log_lines(
    stack: Stack,
) -> None:
    tokens = _new_session(stack)
    trace_id, caller_span, traceparent = _traceparent()

    reply = requests.post(
        f"{stack.base_url}/api/v1/items",
        json={"name": "traced"},
        headers={
            "traceparent": traceparent,
            "Authorization": f"Bearer {tokens['access_token']}",
        },
        timeout=10,
    )

    assert reply.status_code == 201, reply.text
    trace = _wait_for_trace(stack, trace_id, "POST /api/v1/items")
    request = _one(trace, kind="server", name="POST /api/v1/items")
    assert request.service == "items-service"
    assert request.parent_span_id not in ("", caller_span)  # the gateway's span
    statements = [span.attributes.get("db.statement") for span in children(trace, request)]
    assert any("INSERT INTO items" in str(statement) for statement in statements), statements
    request_id = reply.headers["X-Request-ID"]
    gateway_line = next(
        line
        for line in map(_json_or_none, stack.service_logs("gateway").splitlines())
        if line and line.get("logger") == "gateway" and line.get("request_id") == request_id
    )
    assert (gateway_line["trace_id"], gateway_line["span_id"]) == (
        trace_id,
        request.parent_span_id,
    )
    assert gateway_line["parent_span_id"] == caller_span
    access_line = next(
        line
        for line in map(_json_or_none, stack.service_logs("items").splitlines())
        if line and line.get("event") == "request" and line.get("request_id") == request_id
    )
    assert (access_line["trace_id"], access_line["span_id"]) == (trace_id, request.span_id)


def _json_or_none(line: str) -> dict[str, object] | None:
    start = line.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(line[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
