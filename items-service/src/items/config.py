"""items-service settings: every variable is `ITEMS_<NAME>` (see README.md)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.config import ServiceSettings


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
    token_algorithms: list[str] = Field(default_factory=lambda: ["ES256"])
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
