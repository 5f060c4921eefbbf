"""Two-factor login: recovery codes, and the challenge a login answers with when TOTP is on."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import UTCDateTime


class RecoveryCode(Base):
    """One single-use recovery code: only an HMAC of it is kept (keyed by the service's
    secret), so a copy of the database alone cannot test guesses."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_id", "user_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MfaChallenge(Base):
    """What a login with the right password gets when TOTP is on: the `mfa_token` (only its
    SHA-256 here), good once, for a few minutes, for `max_failures` wrong codes at most."""

    __tablename__ = "mfa_challenges"
    __table_args__ = (Index("ix_mfa_challenges_expires_at", "expires_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Used, or voided by too many wrong codes: no longer good either way."""
