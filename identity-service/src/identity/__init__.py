"""identity-service: users, passwords, refresh-token families and access-token signing."""

from flask_openapi3.openapi import OpenAPI

from identity import models  # noqa: F401 - registers every table on the metadata
from identity.config import IdentitySettings
from identity.controllers.audit_controller import audit_bp
from identity.controllers.auth_controller import auth_bp
from identity.controllers.user_controller import users_bp
from identity.controllers.wellknown_controller import wellknown_bp
from identity.security.hashing import PasswordHasher
from identity.wiring import build_components, install
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import Database
from service_kit.http.app import create_service_app

__version__ = "0.1.0"


def create_app(
    settings: IdentitySettings | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    hasher: PasswordHasher | None = None,
    database: Database | None = None,
) -> OpenAPI:
    """Build the identity app. Reads the environment only when no settings are given."""
    settings = settings or IdentitySettings()
    database = database or Database.from_settings(settings)
    parts = build_components(settings, database=database, clock=clock, hasher=hasher)
    app = create_service_app(
        __name__,
        settings=settings,
        database=database,
        verifier=parts.verifier,
        warm_ups=parts.warm_ups,
        title="identity-service",
        version=__version__,
        description="Users, passwords, sessions (refresh-token families) and signing keys.",
    )
    install(app, parts)
    for blueprint in (auth_bp, users_bp, audit_bp, wellknown_bp):
        app.register_api(blueprint)
    from identity.cli import init_cli

    init_cli(app, database)
    return app
