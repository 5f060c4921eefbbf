"""identity-service: users, passwords, refresh-token families and access-token signing."""

from flask_openapi3.openapi import OpenAPI

from identity import models  # noqa: F401 - registers every table on the metadata
from identity.config import IdentitySettings
from identity.controllers.auth_controller import auth_bp
from identity.controllers.user_controller import users_bp
from identity.controllers.wellknown_controller import wellknown_bp
from identity.security.hashing import Argon2idHasher, BulkheadHasher, PasswordHasher
from identity.security.keys import SecretBox
from identity.security.signing import AccessTokenIssuer, AccessTokenPolicy
from identity.services.auth_service import RefreshPolicy
from identity.services.key_service import KeyRing
from identity.services.user_service import PasswordPolicy
from identity.wiring import COMPONENTS_KEY, Components
from service_kit.bulkhead import Bulkhead
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import CursorCodec, Database
from service_kit.http.app import create_service_app
from service_kit.http.auth import init_auth
from service_kit.security.jwt_verify import AccessTokenVerifier

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
    box = SecretBox.from_setting(
        settings.key_encryption_keys.get_secret_value(),
        fallback_secret=settings.secret_key.get_secret_value(),
    )
    key_ring = KeyRing(
        database.session_factory, box=box, ttl_seconds=settings.verification_key_cache_seconds
    )
    app = create_service_app(
        __name__,
        settings=settings,
        database=database,
        title="identity-service",
        version=__version__,
        description="Users, passwords, sessions (refresh-token families) and signing keys.",
        warm_ups=[key_ring.warm_up],
    )
    app.extensions[COMPONENTS_KEY] = Components(
        settings=settings,
        clock=clock,
        hasher=BulkheadHasher(
            hasher
            or Argon2idHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
            ),
            Bulkhead(
                settings.password_hash_concurrency,
                niceness=settings.password_hash_niceness,
                name="password-hashing",
            ),
        ),
        box=box,
        key_ring=key_ring,
        issuer=AccessTokenIssuer(
            key_ring,
            AccessTokenPolicy(
                issuer=settings.issuer,
                audience=settings.access_token_audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            ),
        ),
        refresh_policy=RefreshPolicy(
            ttl_seconds=settings.refresh_token_ttl_seconds,
            reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
            max_lifetime_seconds=settings.session_max_lifetime_seconds,
        ),
        password_policy=PasswordPolicy(min_length=settings.password_min_length),
        user_cursors=CursorCodec(settings.secret_key.get_secret_value(), scope="users"),
    )
    init_auth(
        app,
        AccessTokenVerifier(
            key_ring,
            issuer=settings.issuer,
            audience=settings.access_token_audience,
            algorithms=[settings.signing_algorithm],
            extra_required_claims=("auth_time",),  # recent-login checks rely on it
            clock=clock,
            cache_size=settings.token_cache_size,
        ),
    )
    app.register_api(auth_bp)
    app.register_api(users_bp)
    app.register_api(wellknown_bp)
    from identity.cli import init_cli

    init_cli(app, database)
    return app
