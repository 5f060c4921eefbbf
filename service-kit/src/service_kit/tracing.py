"""Distributed tracing (OpenTelemetry): on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else off.

On, a service exports spans over OTLP/HTTP (protobuf) to `<endpoint>/v1/traces` (or to
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) for:

- each request (Flask; the health and metrics endpoints excepted), continuing the W3C
  `traceparent` the gateway sends;
- each SQL statement (SQLAlchemy) and each outgoing HTTP call (requests: the JWKS fetch), as
  children of the span they run in;
- each integration event: the request that records an event stores its context beside it
  (identity's outbox row; `current_traceparent`); the relay's `send <type>` span continues it
  and travels in the message's `traceparent` header; the consumer's `process <type>` span
  continues that. One trace thus runs from the request through the relay to the consumer,
  however long the event waited in the outbox. The envelope is the same either way.

Work that no request or message started (the relay's polling, a CLI command's statements, a
background JWKS refresh) starts no trace: root spans of kind CLIENT are dropped, so an idle
relay exports nothing. Which traces are kept: `OTEL_TRACES_SAMPLER_ARG` (a share, default 1),
decided by the trace id for a new trace and for one a caller marked sampled (the gateway marks
every request so), so every service keeps the same traces; a caller's "not sampled" is kept to.
The rest of the standard variables apply as the SDK reads them: `OTEL_SERVICE_NAME` (default:
the service's title), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`
(batching), `OTEL_SDK_DISABLED`. The context always travels as W3C `traceparent`.

A failure is recorded by its class, never its message (a database error's message quotes the
row). Flask and SQLAlchemy are instrumented by `service_kit.http.tracing` (this module knows no
web framework). Off, nothing is imported from the SDK or instrumented and log lines carry no
`trace_id`: the hooks below return at their first line.

Tracing is per process (OpenTelemetry's providers and the requests instrumentation are):
the first app configured with an endpoint sets it up, later apps of the process share it.
"""

import functools
import logging
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # imported where tracing is on: off, the process never loads OpenTelemetry
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind, Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger(__name__)

TRACES_ENDPOINT_ENV: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"


WSGI_ENVIRON_KEY: Final = "service_kit.trace_ids"
"""Where a request's (trace id, span id) are kept in its WSGI environ, for the access-log line
gunicorn writes after the request's span has ended."""


@dataclass(frozen=True, slots=True)
class _Tracing:
    provider: "TracerProvider"
    tracer: "Tracer"
    endpoint: str


_active: _Tracing | None = None
_lock = threading.Lock()


def is_enabled() -> bool:
    return _active is not None


def configure_tracing(*, endpoint: str | None, service_name: str, service_version: str) -> None:
    """Set up tracing for this process (once: later calls keep the first set-up), or do nothing
    when `endpoint` is None or empty."""
    global _active  # one tracer provider per process, by OpenTelemetry's design
    if not endpoint:
        return
    with _lock:
        if _active is not None:
            if _active.endpoint != endpoint:
                logger.warning(
                    "tracing already exports elsewhere in this process; endpoint ignored",
                    extra={
                        "endpoint": _without_userinfo(endpoint),
                        "exporting_to": _without_userinfo(_active.endpoint),
                    },
                )
            return
        provider = _build_provider(endpoint, service_name, service_version)
        _instrument_outgoing_http(provider)
        _active = _Tracing(provider, provider.get_tracer("service_kit"), endpoint)
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), type(provider)):
        trace.set_tracer_provider(provider)  # for instrumentation a service adds of its own
    logger.info(
        "tracing on",
        extra={"endpoint": _without_userinfo(endpoint), "service_name": service_name},
    )


def _without_userinfo(url: str) -> str:
    """`url` for a log line: a `user:password@` in it is left out."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def shut_down_tracing() -> None:
    """Export what is buffered and turn tracing off in this process (tests; a process that
    exits does the export itself)."""
    global _active
    with _lock:
        active, _active = _active, None
    if active is None:
        return
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().uninstrument()
    active.provider.shutdown()


def flush() -> None:
    """Export every finished span now (tests)."""
    if _active is not None:
        _active.provider.force_flush()


def active_provider() -> "TracerProvider | None":
    """The process's tracer provider, or None when tracing is off."""
    return None if _active is None else _active.provider


def current_ids() -> tuple[str, str] | None:
    """The trace and span id (hex) of the span in progress, for log lines; None when tracing
    is off or no span is in progress."""
    if _active is None:
        return None
    from opentelemetry import trace

    return _ids(trace.get_current_span())


def _ids(span: Any) -> tuple[str, str] | None:
    span_context = span.get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the span in progress (what an event recorded now carries), or
    None when tracing is off or no span is in progress."""
    if _active is None:
        return None
    carrier: dict[str, str] = {}
    _w3c().inject(carrier)
    return carrier.get("traceparent")


def note_request(request_id: str, environ: MutableMapping[str, Any]) -> None:
    """Name the request id on the request's span (which joins a trace to the log lines) and
    keep the span's ids in the WSGI `environ` for the access-log line."""
    if _active is not None:
        from opentelemetry import trace

        span = trace.get_current_span()
        span.set_attribute("http.request.id", request_id)
        ids = _ids(span)
        if ids is not None:
            environ[WSGI_ENVIRON_KEY] = ids


def record_failure(exc: BaseException) -> None:
    """Mark the span in progress failed by `exc` (a failure handled without re-raising)."""
    if _active is not None:
        from opentelemetry import trace

        # The exception's class only: its message may quote data (a database error's DETAIL
        # line holds the row's values), which a collector must not receive.
        span = trace.get_current_span()
        span.add_event("exception", {"exception.type": _qualified_name(type(exc))})
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))


def _qualified_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def producer_span(
    name: str,
    *,
    parent_traceparent: str | None,
    headers: MutableMapping[str, Any],
    attributes: Mapping[str, str],
) -> AbstractContextManager[None]:
    """A PRODUCER span around publishing a message, continuing the trace in
    `parent_traceparent` (the context that recorded the message); its own context is written
    into `headers`, for the consumer. A no-op when tracing is off."""
    if _active is None:
        return nullcontext()
    from opentelemetry.trace import SpanKind

    return _span(
        name,
        kind=SpanKind.PRODUCER,
        parent=_extract({"traceparent": parent_traceparent} if parent_traceparent else {}),
        attributes=attributes,
        inject_into=headers,
    )


def consumer_span(
    name: str, *, headers: Mapping[str, Any], attributes: Mapping[str, str]
) -> AbstractContextManager[None]:
    """A CONSUMER span around handling a message, continuing the trace in its `headers` (the
    producer's span; none: a trace of its own). A no-op when tracing is off."""
    if _active is None:
        return nullcontext()
    carrier = {key: value for key, value in headers.items() if isinstance(value, str)}
    from opentelemetry.trace import SpanKind

    return _span(name, kind=SpanKind.CONSUMER, parent=_extract(carrier), attributes=attributes)


@contextmanager
def _span(
    name: str,
    *,
    kind: "SpanKind",
    parent: "Context",
    attributes: Mapping[str, str],
    inject_into: MutableMapping[str, Any] | None = None,
) -> Iterator[None]:
    assert _active is not None  # noqa: S101 - checked by the callers

    with _active.tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes)
    ):
        if inject_into is not None:
            _w3c().inject(inject_into)
        yield


def _extract(carrier: Mapping[str, str]) -> "Context":
    """A context with only the carrier's remote span as parent (none: a new trace), not the
    caller's current context: a message's trace is its own, not that of the loop handling it."""
    from opentelemetry.context import Context

    return _w3c().extract(carrier, context=Context())


@functools.cache
def _w3c() -> "TraceContextTextMapPropagator":
    """W3C trace context, whatever OTEL_PROPAGATORS says: the gateway, the outbox row and the
    message headers speak `traceparent`."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _build_provider(endpoint: str, service_name: str, service_version: str) -> "TracerProvider":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {"service.version": service_version}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:  # the standard variables name the service, else its title does
        attributes["service.name"] = service_name
    provider = TracerProvider(resource=Resource.create(attributes), sampler=_sampler())
    traces_endpoint = os.environ.get(TRACES_ENDPOINT_ENV) or endpoint.rstrip("/") + "/v1/traces"
    # BatchSpanProcessor restarts its export thread in a forked child (gunicorn's workers).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint)))
    return provider


def _sampler() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    class ServedWorkOnly(Sampler):
        """Roots: a CLIENT span (a statement or call that no request or message started) is
        dropped; any other root is sampled by `ratio`."""

        def __init__(self, ratio: float) -> None:
            self._ratio = TraceIdRatioBased(ratio)

        def should_sample(  # type: ignore[no-untyped-def]
            self,
            parent_context,
            trace_id,
            name,
            kind=None,
            attributes=None,
            links=None,
            trace_state=None,
        ) -> SamplingResult:
            if kind is trace.SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return self._ratio.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"ServedWorkOnly{{{self._ratio.get_description()}}}"

    ratio = min(max(float(os.environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0), 0.0), 1.0)
    # A remote parent that says "sampled" (the gateway always does) is kept by the same ratio,
    # decided by the trace id: every service with the same ratio keeps the same traces. One
    # that says "not sampled" (a service upstream decided) is not kept.
    return ParentBased(root=ServedWorkOnly(ratio), remote_parent_sampled=TraceIdRatioBased(ratio))


def _instrument_outgoing_http(provider: "TracerProvider") -> None:
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # The exporter's own POSTs go through requests too; they must not trace themselves. They
    # run on the export thread with no span in progress, and a root CLIENT span is dropped.
    RequestsInstrumentor().instrument(tracer_provider=provider)
