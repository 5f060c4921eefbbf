"""Builds a service's Flask app with every shared concern wired in one place."""

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from flask_cors import CORS
from flask_openapi3.models.info import Info
from flask_openapi3.openapi import OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

from service_kit.config import ServiceSettings
from service_kit.db.session import Database
from service_kit.http.auth import VERIFIER_KEY, authenticate_marked_views
from service_kit.http.cache_control import forbid_storing
from service_kit.http.db import init_database, rerun_on_lost_connection
from service_kit.http.health import ReadinessCheck, init_health
from service_kit.http.metrics import init_metrics, record_request, start_timer
from service_kit.http.openapi import SECURITY_SCHEMES, ServiceOpenAPI, init_docs
from service_kit.http.problems import (
    register_problem_handlers,
    reject_malformed_json,
    reject_repeated_query_parameters,
    validation_problem,
)
from service_kit.http.request_id import bind_request_id, echo_request_id, unbind_request_id
from service_kit.http.tracing import instrument_app
from service_kit.logging import configure_logging
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit.tracing import configure_tracing

SETTINGS_KEY = "settings"
WARM_UPS_KEY = "service_kit.warm_ups"
"""Callables gunicorn runs once in each worker after it loads the app (see gunicorn_config)."""

BEFORE_REQUEST: Final = (
    bind_request_id,  # first: every later log line carries the request id
    start_timer,
    authenticate_marked_views,  # 401/403 before the body or the query is read
    reject_malformed_json,
    reject_repeated_query_parameters,
)
"""The hooks that run before each view, in this order (flask-openapi3 validates after them)."""

AFTER_REQUEST: Final = (record_request, forbid_storing, echo_request_id)
"""The hooks that run after each view (error responses included), in this order."""


class _NoSessions(SessionInterface):
    """The services keep no state in cookies (callers send bearer tokens): every request gets
    Flask's null session instead of a signed cookie parsed and checked for nothing."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None  # Flask then hands out a null session: writing to it raises

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


class ServiceApp(ServiceOpenAPI):
    """The app class of every service: a view whose database connection was lost before the
    request committed anything runs once more (see `service_kit.http.db`); no cookie
    sessions."""

    session_interface = _NoSessions()

    def dispatch_request(self) -> ResponseReturnValue:
        return rerun_on_lost_connection(super().dispatch_request)


def create_service_app(
    import_name: str,
    *,
    settings: ServiceSettings,
    database: Database,
    title: str,
    version: str,
    description: str,
    verifier: AccessTokenVerifier | None = None,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    warm_ups: Sequence[Callable[[], None]] = (),
) -> OpenAPI:
    """An OpenAPI (Flask) app with logging, request ids, problem+json, no-store caching by
    default, health, metrics, docs and, when an OTLP endpoint is set, tracing; views marked
    `require_auth`/`require_admin` are authenticated with `verifier` (an app without one may
    mark none)."""
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = ServiceApp(
        import_name,
        info=Info(title=title, version=version, description=description),
        security_schemes=SECURITY_SCHEMES,
        validation_error_callback=validation_problem,
        doc_ui=False,
        static_folder=None,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        DEBUG=settings.debug,
        SECRET_KEY=settings.secret_key.get_secret_value(),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # One spelling per route: `/login/` or `/a//b` is a problem+json 404, never the view
    # (the gateway's rate limits key on the path) and never a redirect (werkzeug answers those
    # with HTML 308s that bypass the error handlers). strict_slashes redirects only a rule
    # that ends in `/`; every rule of ours is defined without one (service-kit's tests check).
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = True
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[WARM_UPS_KEY] = tuple(warm_ups)
    if verifier is not None:
        app.extensions[VERIFIER_KEY] = verifier
    configure_tracing(
        endpoint=settings.otel_exporter_otlp_endpoint, service_name=title, service_version=version
    )
    instrument_app(app, database.engine)  # before ProxyFix wraps the WSGI app
    if settings.trusted_proxy_count:
        # Trust X-Forwarded-* only from the configured number of proxies (the gateway).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxy_count,
            x_proto=settings.trusted_proxy_count,
            x_host=settings.trusted_proxy_count,
            x_prefix=settings.trusted_proxy_count,
        )
    if settings.cors_origins:
        CORS(
            app,
            origins=settings.cors_origins,
            supports_credentials=settings.cors_allow_credentials,
            expose_headers=[
                "X-Request-ID",
                "ETag",
                "Location",
                "Retry-After",
                "Idempotent-Replayed",
            ],
        )
    for hook in BEFORE_REQUEST:
        app.before_request(hook)
    for after in reversed(AFTER_REQUEST):  # Flask runs after-request hooks last-registered first
        app.after_request(after)
    app.teardown_request(unbind_request_id)
    register_problem_handlers(app)
    init_metrics(app)
    init_database(app, database)
    init_health(app, {"database": database.ping, **(readiness_checks or {})})
    init_docs(app)
    return app
