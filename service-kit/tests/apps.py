"""A service app for service-kit's own tests: what `create_service_app` builds, on an in-memory
SQLite database, with the settings a test names."""

from typing import Any

from flask_openapi3.openapi import OpenAPI

from service_kit.config import ServiceSettings
from service_kit.db.session import Database
from service_kit.http.app import create_service_app
from service_kit.security.jwt_verify import AccessTokenVerifier


def service_app(
    *, title: str = "test", verifier: AccessTokenVerifier | None = None, **settings: Any
) -> OpenAPI:
    return create_service_app(
        __name__,
        settings=ServiceSettings(  # type: ignore[call-arg]
            _env_file=None, env="test", database_url="sqlite://", **settings
        ),
        database=Database("sqlite://"),
        verifier=verifier,
        title=title,
        version="0",
        description="test app",
    )
