"""Settings base shared by the services (pydantic-settings, one env prefix per service)."""

from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEV_SECRET_PREFIX = "dev-insecure-"  # noqa: S105 - a marker, not a secret
"""Development placeholders start with this; production refuses them."""


class ConfigurationError(ValueError):
    """The settings are unsafe for the selected environment."""


def is_placeholder_secret(value: str) -> bool:
    """True for empty secrets and the development placeholders committed in the repository."""
    return not value.strip() or value.startswith(DEV_SECRET_PREFIX) or "change-me" in value


def database_url_problem(url: str) -> str | None:
    """Why `url` is unfit for production, or None: SQLite, or a placeholder password.

    A URL without a password is fine (trust, peer or certificate authentication, `.pgpass`);
    one with a password must not carry a development placeholder such as compose's default.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "database_url is not a valid database URL"
    if parsed.get_backend_name() == "sqlite":
        return "production needs a PostgreSQL database_url"
    if parsed.password and is_placeholder_secret(str(parsed.password)):
        return "database_url has a development placeholder password"
    return None


EMBEDDED_BROKER_URL = "sqla+sqlite:///var/events.db"
"""Integration events without a broker: kombu's SQLAlchemy transport on a file both services of
`make run` share. Development only; production needs a real broker."""


def broker_url_problem(url: str) -> str | None:
    """What production refuses in an events broker URL, or None."""
    if url.startswith("sqla+"):
        return "production needs a RabbitMQ events_broker_url (amqp://...)"
    if "dev-insecure" in url or "change-me" in url:
        return "events_broker_url has a development placeholder password"
    return None


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set `env_prefix` and add their own."""

    # hide_input_in_errors: a refused setting must not echo the others (a database URL holds a
    # password) into the startup error.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    debug: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    database_url: str = "sqlite:///var/service.db"
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_max_overflow: int = Field(default=5, ge=0, le=100)
    database_statement_timeout_ms: int = Field(default=10_000, ge=0)
    database_connect_timeout_seconds: int = Field(default=5, ge=1, le=60)
    database_pool_timeout_seconds: float = Field(default=10, gt=0, le=60)
    database_pool_pre_ping: bool = False
    database_autocommit_reads: bool = True
    secret_key: SecretStr = SecretStr(DEV_SECRET_PREFIX + "secret-key")
    max_content_length: int = Field(default=1024 * 1024, ge=1024)
    trusted_proxy_count: int = Field(default=0, ge=0, le=5)
    cors_origins: list[str] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    token_cache_size: int = Field(default=4096, ge=0, le=1_000_000)
    """How many verified access tokens each worker remembers, so that a token's repeats skip
    the signature check (expiry, key withdrawal and revocation are still checked on every
    request); 0 verifies every request's signature."""
    events_broker_url: SecretStr = SecretStr(EMBEDDED_BROKER_URL)
    """Where integration events travel: `amqp://user:password@host:5672/vhost` (RabbitMQ), or
    the embedded transport when there is no broker (development)."""

    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("otel_exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    """Where to export OpenTelemetry traces (OTLP over HTTP, e.g. `http://collector:4318`); the
    standard variable, without the service's prefix. Unset or empty: no tracing
    (`service_kit.tracing`)."""

    def secret_fields(self) -> dict[str, SecretStr]:
        """Every secret setting, by name, for the production guard."""
        return {
            name: value for name, value in self.__dict__.items() if isinstance(value, SecretStr)
        }

    def production_problems(self) -> list[str]:
        """A service's own reasons to refuse these settings in production (none here)."""
        return []

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env != "production":
            return self
        problems = [
            f"{name} is missing or a development placeholder"
            for name, value in self.secret_fields().items()
            if is_placeholder_secret(value.get_secret_value())
        ]
        if self.debug:
            problems.append("debug must be off")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            problems.append("CORS '*' cannot be combined with credentials")
        database_problem = database_url_problem(self.database_url)
        if database_problem:
            problems.append(database_problem)
        broker_problem = broker_url_problem(self.events_broker_url.get_secret_value())
        if broker_problem:
            problems.append(broker_problem)
        problems += self.production_problems()
        if problems:
            raise ConfigurationError("unsafe production settings: " + "; ".join(problems))
        return self
