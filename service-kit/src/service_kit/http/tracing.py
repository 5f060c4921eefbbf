"""Tracing of a service app's requests and statements (`service_kit.tracing` has the rest)."""

from typing import Any

from flask import Flask, request
from sqlalchemy import Engine

from service_kit import tracing

EXCLUDED_URLS = r"^[a-z]+://[^/]+/health/,^[a-z]+://[^/]+/metrics(\?|$)"
"""Requests that start no span (probes and scrapes, several a second): comma-separated patterns
the instrumentation searches each request's full URL for."""


def instrument_app(app: Flask, engine: Engine) -> None:
    """Trace `app`'s requests and `engine`'s statements, if tracing is on. Call before any
    WSGI middleware wraps the app, so that the span sees what the middleware rewrote."""
    provider = tracing.active_provider()
    if provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app,
        response_hook=_path_only,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        enable_commenter=False,
    )
    # Per engine (the instrumentor's own `instrument(engine=...)` works once per process).
    tracer = provider.get_tracer(SQLAlchemyInstrumentor.__module__)
    _statement_tracer()(tracer, engine, _NoCounter(), enable_commenter=False)


def _path_only(span: Any, _status: str, _headers: Any) -> None:
    """The request's target without its query string, which may hold what a caller searched
    for (an email address): spans go to a collector, and the access log keeps the path only
    too. (A response hook: the instrumentation sets the target after its request hook.)"""
    if span.is_recording():
        span.set_attribute("http.target", request.path)


def _statement_tracer() -> Any:
    """The SQLAlchemy instrumentation's EngineTracer, with three changes:

    - statements of a request whose trace is not recorded (sampled out, or none) start no
      span: the library works out a statement's attributes (parsing the engine's URL) and
      starts a span for each before it asks whether the span records, which cost 4 % of a list
      request's CPU with 10 % of traces kept;
    - a failed statement's span says which error class failed it, not the driver's message,
      which quotes the row (`Key (email)=(...) already exists`);
    - no pool listeners: they feed a connection-count metric the services do not export (their
      metrics are Prometheus').
    """
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy import engine as instrumented

    pool_events = {"connect", "close", "checkin", "checkout"}

    class StatementTracer(instrumented.EngineTracer):
        def _before_cur_exec(self, conn: Any, cursor: Any, statement: Any, *args: Any) -> Any:
            if not trace.get_current_span().is_recording():
                return statement, args[0]  # the statement and its parameters, unchanged
            return super()._before_cur_exec(conn, cursor, statement, *args)  # type: ignore[no-untyped-call]

        @classmethod
        def _register_event_listener(
            cls, target: Any, identifier: str, func: Any, *args: Any, **kw: Any
        ) -> None:
            if identifier in pool_events:
                return
            if func is instrumented._handle_error:
                func = _end_failed_statement
            super()._register_event_listener(target, identifier, func, *args, **kw)  # type: ignore[no-untyped-call]

    return StatementTracer


def _end_failed_statement(context: Any) -> None:
    span = getattr(context.execution_context, "_otel_span", None)
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    if span.is_recording():
        failure = context.original_exception
        span.set_status(Status(StatusCode.ERROR, type(failure).__name__))
        sqlstate = getattr(failure, "sqlstate", None)  # psycopg's error code, e.g. 23505
        if sqlstate:
            span.set_attribute("db.response.status_code", str(sqlstate))
    span.end()


class _NoCounter:
    """What the instrumentation's connection counter is given (its pool listeners are not
    registered, so nothing counts)."""

    def add(self, *_args: Any, **_kwargs: Any) -> None:
        pass
