"""items-service: items owned by users, authorised by access tokens verified from the JWKS."""

from flask_openapi3.openapi import OpenAPI

from items import models  # noqa: F401 - registers every table on the metadata
from items.config import ItemsSettings
from items.controllers.item_controller import items_bp
from items.controllers.tag_controller import tags_bp
from items.wiring import build_components, install
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import Database
from service_kit.http.app import create_service_app
from service_kit.security.jwt_verify import KeySource

__version__ = "0.1.0"


def create_app(
    settings: ItemsSettings | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    database: Database | None = None,
    keys: KeySource | None = None,
) -> OpenAPI:
    """Build the items app. Reads the environment only when no settings are given."""
    settings = settings or ItemsSettings()
    database = database or Database.from_settings(settings)
    parts = build_components(settings, clock=clock, keys=keys)
    app = create_service_app(
        __name__,
        settings=settings,
        database=database,
        verifier=parts.verifier,
        readiness_checks=parts.readiness_checks,
        warm_ups=parts.warm_ups,
        title="items-service",
        version=__version__,
        description="Items owned by users; access tokens are verified locally from the JWKS.",
    )
    install(app, parts)
    for blueprint in (items_bp, tags_bp):
        app.register_api(blueprint)
    from items.cli import init_cli

    init_cli(app, database)
    return app
