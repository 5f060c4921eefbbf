"""Tracing of a service app's requests and statements (`service_kit.tracing` has the rest)."""

from typing import Any

from flask import Flask
from sqlalchemy import Engine

from service_kit import tracing

EXCLUDED_URLS = "/health,/metrics"
"""Requests that start no span (probes and scrapes, several a second)."""


def instrument_app(app: Flask, engine: Engine) -> None:
    """Trace `app`'s requests and `engine`'s statements, if tracing is on. Call before any
    WSGI middleware wraps the app, so that the span sees what the middleware rewrote."""
    provider = tracing.active_provider()
    if provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, enable_commenter=False
    )
    # Per engine (the instrumentor's own `instrument(engine=...)` works once per process).
    tracer = provider.get_tracer(SQLAlchemyInstrumentor.__module__)
    _statement_tracer()(tracer, engine, _NoCounter(), enable_commenter=False)


def _statement_tracer() -> Any:
    """The SQLAlchemy instrumentation's EngineTracer, skipping the statements of a request whose
    trace is not recorded (sampled out, or none): the library works out a statement's
    attributes (parsing the engine's URL) and starts a span for each before it asks whether
    the span records, which cost 4 % of a list request's CPU with 10 % of traces kept."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    class StatementTracer(EngineTracer):
        def _before_cur_exec(self, conn: Any, cursor: Any, statement: Any, *args: Any) -> Any:
            if not trace.get_current_span().is_recording():
                return statement, args[0]  # the statement and its parameters, unchanged
            return super()._before_cur_exec(conn, cursor, statement, *args)  # type: ignore[no-untyped-call]

    return StatementTracer


class _NoCounter:
    """The SQLAlchemy instrumentation also counts pool connections as a metric; the services
    export metrics to Prometheus, not over OTLP."""

    def add(self, *_args: Any, **_kwargs: Any) -> None:
        pass
