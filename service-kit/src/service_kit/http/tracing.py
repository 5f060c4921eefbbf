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
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, enable_commenter=False
    )
    # Per engine (the instrumentor's own `instrument(engine=...)` works once per process).
    tracer = provider.get_tracer(SQLAlchemyInstrumentor.__module__)
    EngineTracer(tracer, engine, _NoCounter(), enable_commenter=False)  # type: ignore[no-untyped-call]


class _NoCounter:
    """The SQLAlchemy instrumentation also counts pool connections as a metric; the services
    export metrics to Prometheus, not over OTLP."""

    def add(self, *_args: Any, **_kwargs: Any) -> None:
        pass
