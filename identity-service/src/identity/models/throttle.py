"""Attempts per account, for throttling: failed logins per email, mails asked for per address,
second-factor codes per account."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import UTCDateTime, str_enum


class ThrottleScope(StrEnum):
    LOGIN = "login"
    MAIL = "mail"
    """Mails asked for per address and kind (verification, reset): a few an hour, then none."""
    TOTP = "totp"
    """Second-factor codes per account (login's code, enrolment, disabling)."""


class Throttle(Base):
    """The failures of one subject in one scope. The subject is never stored: `key_hash` is an
    HMAC of it (a login's normalised email, known account or not), so the table tells nothing
    of who tried, and an unknown email is throttled exactly like a known one."""

    __tablename__ = "throttles"
    __table_args__ = (
        UniqueConstraint("scope", "key_hash", name="uq_throttles_scope_key"),
        Index("ix_throttles_updated_at", "updated_at"),  # the prune
    )

    scope: Mapped[ThrottleScope] = mapped_column(str_enum(ThrottleScope, name="throttle_scope"))
    key_hash: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    """Failures in the current window."""
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lockouts: Mapped[int] = mapped_column(default=0)
    """Locks in a row so far: the next one lasts twice as long as the last."""
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
