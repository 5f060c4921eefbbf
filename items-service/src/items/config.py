"""items-service settings: every variable is `ITEMS_<NAME>` (see README.md)."""

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from service_kit.config import ConfigurationError, ServiceSettings
from service_kit.security.jwt_verify import ACCESS_TOKEN_ALGORITHM


class ItemsSettings(ServiceSettings):
    """Settings of items-service, read from `ITEMS_*` variables and `.env`."""

    model_config = SettingsConfigDict(env_prefix="ITEMS_")  # the rest comes from the base

    database_url: str = "sqlite:///var/items.db"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    jwks_cache_seconds: float = Field(default=300, ge=0, le=86_400)
    jwks_min_refetch_seconds: float = Field(default=10, ge=0, le=3600)
    jwks_timeout_seconds: float = Field(default=2, gt=0, le=30)
    token_issuer: str = "http://localhost:8080"  # noqa: S105 - a URL, not a secret
    token_audience: str = "api"  # noqa: S105 - an audience name
    token_algorithms: list[str] = Field(default_factory=lambda: [ACCESS_TOKEN_ALGORITHM])
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    access_token_max_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    """The longest access-token lifetime identity issues (at least IDENTITY_ACCESS_TOKEN_TTL_
    SECONDS): revocations are remembered this long plus the leeway, and a token claiming a
    longer life is refused."""
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    revocation_check: bool = True
    revocation_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    revocation_max_staleness_seconds: float = Field(default=5, gt=0, le=300)
    events_max_attempts: int = Field(default=5, ge=1, le=100)
    events_erasure_batch_size: int = Field(default=1000, ge=1, le=100_000)
    events_erasure_pause_seconds: float = Field(default=0.05, ge=0, le=60)
    events_inbox_retention_seconds: int = Field(default=7 * 86_400, ge=3600)

    @model_validator(mode="after")
    def _staleness_above_poll_interval(self) -> Self:
        if self.revocation_max_staleness_seconds <= 2 * self.revocation_poll_seconds:
            raise ConfigurationError(
                "revocation_max_staleness_seconds must exceed twice revocation_poll_seconds"
            )
        return self

    @property
    def revocation_lifetime_seconds(self) -> int:
        """How long after a revocation a token it voids could still be accepted."""
        return self.access_token_max_ttl_seconds + self.token_leeway_seconds
