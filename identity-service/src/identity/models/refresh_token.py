"""Refresh-token families (one per login) and the tokens rotated within them."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import PublicIdMixin, TimestampMixin, UTCDateTime


class RevokeReason(StrEnum):
    """Why sessions or access tokens were revoked: kept on a revoked family and sent in the
    `identity.session.revoked` / `identity.tokens.revoked` events (their `reason`)."""

    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_DELETED = "session_deleted"
    REUSE_DETECTED = "reuse_detected"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a secret
    DEACTIVATED = "deactivated"
    ROLE_CHANGED = "role_changed"
    ACCOUNT_DELETED = "account_deleted"


class RefreshTokenFamily(PublicIdMixin, TimestampMixin, Base):
    """One login session. Its `public_id` is the `sid` claim of the session's access tokens.

    Revoked only through `RefreshTokenFamilyRepository`, which also erases the family's
    grace-window secrets."""

    __tablename__ = "refresh_token_families"
    __table_args__ = (
        Index("ix_refresh_token_families_user_id_revoked_at", "user_id", "revoked_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(32))

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class RefreshToken(PublicIdMixin, TimestampMixin, Base):
    """One refresh token: only its SHA-256 is stored. `parent_id` is unique, so a family can
    never fork: each token has at most one successor."""

    __tablename__ = "refresh_tokens"

    family_id: Mapped[int] = mapped_column(
        ForeignKey("refresh_token_families.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("refresh_tokens.id", ondelete="SET NULL"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    successor_ciphertext: Mapped[str | None] = mapped_column(Text)
    """The successor's raw value, encrypted, kept only during the reuse grace window."""

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at
