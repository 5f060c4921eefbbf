"""Asymmetric keys that sign access tokens; private halves are encrypted at rest."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.models.base import Base
from service_kit.db import PublicIdMixin, TimestampMixin, UTCDateTime, str_enum


class KeyState(StrEnum):
    ACTIVE = "active"  # signs new tokens; exactly one
    RETIRING = "retiring"  # published, verifies tokens it signed earlier
    RETIRED = "retired"  # unpublished; tokens it signed no longer verify


class SigningKey(PublicIdMixin, TimestampMixin, Base):
    """A signing key pair. A partial unique index allows only one active key."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index(
            "uq_signing_keys_one_active",
            "state",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_ciphertext: Mapped[str] = mapped_column(Text)
    state: Mapped[KeyState] = mapped_column(
        str_enum(KeyState, name="key_state"),
        default=KeyState.ACTIVE,
    )
    retiring_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
