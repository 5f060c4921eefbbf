"""A small OTLP/HTTP trace receiver for tests: what a collector would receive, as plain spans.

    with OtlpReceiver() as receiver:            # listens on 127.0.0.1, a free port
        ...  # run code with OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint
        trace = receiver.wait_for(lambda spans: ..., timeout=10)

It accepts `POST /v1/traces` with a protobuf `ExportTraceServiceRequest` (what the SDK's
OTLP/HTTP exporter sends; gzip or not) and answers 200 with an empty response.
"""

import gzip
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True, slots=True)
class Span:
    """One received span; ids are lower-case hex, `parent_span_id` is "" for a root."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    status_code: int = 0
    """0 unset, 1 ok, 2 error."""
    status_message: str = ""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Span({self.service} {self.kind} {self.name!r} trace={self.trace_id[:8]} "
            f"id={self.span_id[:8]} parent={self.parent_span_id[:8] or '-'})"
        )


class OtlpReceiver:
    """An OTLP/HTTP endpoint on a thread; `spans` is everything received so far."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keep: int = 100_000) -> None:
        self._spans: deque[Span] = deque(maxlen=keep)  # the most recent `keep`
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._add(_flatten(request))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def endpoint(self, host: str = "127.0.0.1") -> str:
        """The value of OTEL_EXPORTER_OTLP_ENDPOINT for an exporter that reaches it as `host`."""
        return f"http://{host}:{self.port}"

    @property
    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def trace(self, trace_id: str) -> list[Span]:
        return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(
        self, condition: Callable[[list[Span]], Sequence[Span] | bool | None], *, timeout: float
    ) -> list[Span]:
        """Wait until `condition(spans)` is truthy; returns the spans it was true for.

        Raises:
            AssertionError: not within `timeout` seconds (the message lists what came).
        """
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans
            if condition(spans):
                return spans
            if time.monotonic() > deadline:
                listed = "\n  ".join(repr(span) for span in spans[-40:])
                raise AssertionError(f"spans not received in {timeout} s; got:\n  {listed}")
            time.sleep(0.05)

    def _add(self, spans: list[Span]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def children(spans: Sequence[Span], parent: Span) -> list[Span]:
    return [span for span in spans if span.parent_span_id == parent.span_id]


def _flatten(request: ExportTraceServiceRequest) -> list[Span]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        service=service,
                        name=span.name,
                        kind=_KINDS.get(span.kind, str(span.kind)),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        status_code=span.status.code,
                        status_message=span.status.message,
                        events=[
                            (event.name, {kv.key: _value(kv.value) for kv in event.attributes})
                            for event in span.events
                        ],
                    )
                )
    return spans


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


def spans_by_name(spans: Iterator[Span] | Sequence[Span], name: str) -> list[Span]:
    return [span for span in spans if span.name == name]
