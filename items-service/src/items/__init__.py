"""items-service: items owned by users, authorised by access tokens verified from the JWKS."""

from collections.abc import Callable

from flask_openapi3.openapi import OpenAPI

from items import models  # noqa: F401 - registers every table on the metadata
from items.config import ItemsSettings
from items.controllers.item_controller import items_bp
from items.revocations import DatabaseRevocationFeed
from items.wiring import COMPONENTS_KEY, REVOCATIONS_KEY, Components
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import CreationOrder, CursorCodec, Database
from service_kit.http.app import create_service_app
from service_kit.http.auth import init_auth
from service_kit.security.jwks_client import JwksClient
from service_kit.security.jwt_verify import AccessTokenVerifier, KeySource
from service_kit.security.revocation import RevocationView

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
    jwks = JwksClient(
        settings.jwks_url,
        ttl_seconds=settings.jwks_cache_seconds,
        min_refetch_interval_seconds=settings.jwks_min_refetch_seconds,
        timeout_seconds=settings.jwks_timeout_seconds,
    )
    key_source: KeySource = keys or jwks
    # Revoked sessions and "void before" marks, from the feed the event consumer writes:
    # answered from memory, refreshed by a poller each worker starts after the fork.
    revocations = (
        RevocationView(
            DatabaseRevocationFeed(settings),
            poll_interval_seconds=settings.revocation_poll_seconds,
            max_staleness_seconds=settings.revocation_max_staleness_seconds,
            on_keys_changed=jwks.refresh if keys is None else None,
            clock=clock,
        )
        if settings.revocation_check
        else None
    )
    # The feed's first read comes before the keys are loaded: a key change committed between
    # the two is then in the keys, and one after the read is applied by the next poll.
    warm_ups: list[Callable[[], None]] = [revocations.start] if revocations is not None else []
    if keys is None:
        warm_ups.append(jwks.warm_up)
    app = create_service_app(
        __name__,
        settings=settings,
        database=database,
        title="items-service",
        version=__version__,
        description="Items owned by users; access tokens are verified locally from the JWKS.",
        readiness_checks={"jwks": jwks.ensure_available} if keys is None else None,
        warm_ups=warm_ups,
    )
    app.extensions[REVOCATIONS_KEY] = revocations
    secret = settings.secret_key.get_secret_value()
    app.extensions[COMPONENTS_KEY] = Components(
        settings=settings,
        clock=clock,
        item_cursors={
            order: CursorCodec(secret, scope=f"items:{order.value}") for order in CreationOrder
        },
    )
    init_auth(
        app,
        AccessTokenVerifier(
            key_source,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            algorithms=settings.token_algorithms,
            leeway_seconds=settings.token_leeway_seconds,
            clock=clock,
            revocations=revocations,
            max_lifetime_seconds=settings.access_token_max_ttl_seconds,
            cache_size=settings.token_cache_size,
        ),
    )
    app.register_api(items_bp)
    from items.cli import init_cli

    init_cli(app, database)
    return app
