"""User accounts."""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import PublicIdMixin, SoftDeleteMixin, TimestampMixin, UTCDateTime, str_enum


class Role(StrEnum):
    """What an account may do: `user` (its own data) or `admin` (everyone's)."""

    USER = "user"
    ADMIN = "admin"


def normalise_email(email: str) -> str:
    """The stored form of an email address: trimmed and lower-cased, so uniqueness ignores case."""
    return email.strip().lower()


class User(PublicIdMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A person who can log in. `email` is stored normalised; only live rows must be unique."""

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_email_live",
            "email",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(
        str_enum(Role, name="role"),
        default=Role.USER,
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    event_sequence: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """The `sequence` of the user's latest integration event; 0 before the first."""
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the owner proved the address theirs (a verification link, or a password reset
    through it); None: not yet."""
    totp_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """The TOTP secret, encrypted with the key-encryption keys (`SecretBox`): pending until
    `totp_enabled_at` is set by a confirmed code."""
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column()
    """The time step of the last code accepted: a code is accepted once (RFC 6238 section 5.2)."""
    tokens_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Access tokens of the user with `iat` before this whole second are void (see
    `revoke_access_tokens`); None until the first revocation."""

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def can_log_in(self) -> bool:
        return self.is_active and not self.is_deleted

    def next_event_sequence(self) -> int:
        """Count one more event of this user; the caller holds the user's row lock, so the
        user's events are numbered in the order their transactions commit."""
        self.event_sequence += 1
        return self.event_sequence

    def revoke_access_tokens(self, *, at: datetime) -> datetime:
        """Void every access token issued to the user so far; returns the new `not_before`.

        Tokens carry `iat` in whole seconds, and a token is void iff `iat < not_before`. The
        new bound is the revocation instant floored to the second, plus one second: every
        token issued up to now has an `iat` below it. Identity never issues a token with
        `iat` below the user's current bound (`AccessTokenIssuer.issue`), so a token issued in
        the same second after an earlier revocation carries that earlier bound as its `iat`;
        the bound therefore moves one second past it (two revocations within one second).
        """
        floor = at.replace(microsecond=0)
        current = self.tokens_not_before
        bound = max(floor, current) if current is not None else floor
        self.tokens_not_before = bound + timedelta(seconds=1)
        return self.tokens_not_before
