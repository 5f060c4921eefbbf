"""identity-service settings: every variable is `IDENTITY_<NAME>` (see README.md)."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from identity.security.password_limits import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from service_kit.config import ServiceSettings
from service_kit.security.jwt_verify import ACCESS_TOKEN_ALGORITHM


class IdentitySettings(ServiceSettings):
    """Settings of identity-service, read from `IDENTITY_*` variables and `.env`."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_")  # the rest comes from the base

    database_url: str = "sqlite:///var/identity.db"
    issuer: str = "http://localhost:8080"
    access_token_audience: str = "api"  # noqa: S105 - an audience name
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300)
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=300)
    session_max_lifetime_seconds: int = Field(default=90 * 86_400, ge=300)
    """No session (refresh-token family) outlives its login by more, however often refreshed."""
    reauth_max_age_seconds: int = Field(default=300, ge=1)
    """Sensitive operations need a token whose login (`auth_time`) is at most this old."""
    signing_algorithm: Literal["ES256"] = ACCESS_TOKEN_ALGORITHM
    key_encryption_keys: SecretStr = SecretStr("")
    """Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation)."""
    jwks_max_age_seconds: int = Field(default=300, ge=0, le=86_400)
    verification_key_cache_seconds: int = Field(default=30, ge=0, le=3600)
    password_min_length: int = Field(
        default=PASSWORD_MIN_LENGTH, ge=PASSWORD_MIN_LENGTH, le=PASSWORD_MAX_LENGTH
    )
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    password_hash_concurrency: int = Field(default=2, ge=0, le=64)
    """Password hashes (login, registration, password change) running at once per process;
    more are refused with 503 `overloaded`. 0: no limit."""
    password_hash_niceness: int = Field(default=19, ge=0, le=19)
    """CPU niceness of the threads that hash (Linux): busy cores serve cheap requests first."""
    events_relay_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    """How long the event relay waits for new outbox rows once it has caught up."""
    events_relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    """Outbox rows one relay transaction claims, publishes and marks sent."""
    events_retention_seconds: int = Field(default=7 * 86_400, ge=60)
    """Sent outbox rows older than this are deleted by `events prune`."""
    audit_retention_days: int = Field(default=365, ge=1)
    """Audit events older than this are deleted by `audit prune`."""
    login_throttle_max_failures: int = Field(default=5, ge=1, le=1000)
    """Failed logins for one email (known or not) within the window that lock it."""
    login_throttle_window_seconds: int = Field(default=900, ge=1)
    login_throttle_lock_seconds: int = Field(default=60, ge=1)
    """The first lock; each further one in a row lasts twice as long as the last."""
    login_throttle_max_lock_seconds: int = Field(default=3600, ge=1)
    require_verified_email: bool = False
    """Refuse login (403 `email_not_verified`, after the password was checked) until the
    address is verified."""
    email_verification_ttl_seconds: int = Field(default=86_400, ge=300)
    password_reset_ttl_seconds: int = Field(default=1800, ge=60, le=86_400)
    public_url: str = "http://localhost:8080"
    """Where the product's pages are: mails link to `{public_url}/verify-email?token=...` and
    `{public_url}/reset-password?token=...`."""
    product_name: str = Field(default="Example", min_length=1, max_length=100)
    mail_backend: Literal["console", "smtp"] = "console"
    """`console` prints each mail (links and all) on the mail worker's standard output: for
    development only, refused in production. `smtp`: the `SMTP_*` settings."""
    mail_from: str = "Example <no-reply@example.com>"
    mail_requests_per_hour: int = Field(default=3, ge=1, le=100)
    """Verification and reset mails asked for per address and kind, per hour; more are
    accepted (202) but not sent."""
    mail_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_retry_seconds: int = Field(default=30, ge=1)
    """The wait after a failed send; it doubles with each attempt, up to an hour."""
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _session_outlives_one_refresh_token(self) -> Self:
        # A shorter maximum would silently cut every refresh token's lifetime; say so instead.
        if self.session_max_lifetime_seconds < self.refresh_token_ttl_seconds:
            raise ValueError(
                "session_max_lifetime_seconds must be at least refresh_token_ttl_seconds"
            )
        return self

    def production_problems(self) -> list[str]:
        # The console backend prints single-use tokens; production logs must never hold one.
        if self.mail_backend == "console":
            return ["mail_backend console prints tokens; use smtp"]
        return []
