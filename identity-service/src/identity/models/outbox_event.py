"""The transactional outbox: integration events written with the change they announce."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from identity.models.base import Base
from service_kit.db import UTCDateTime

_PENDING = text("sent_at IS NULL")


class OutboxEvent(Base):
    """One event: pending (`sent_at` is None) until the relay has had it confirmed by the
    broker; sent rows are kept for `IDENTITY_EVENTS_RETENTION_SECONDS`, then pruned.

    The relay publishes in `id` order. A user's events are inserted under the user's row lock,
    so their ids grow with their `sequence`."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
        Index(
            "ix_outbox_pending_subject",
            "subject",
            "id",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_outbox_sent_at", "sent_at"),
    )

    # 64 bits: rows are never reused; SQLite only autoincrements an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)
    """The CloudEvents JSON exactly as it is published."""
    traceparent: Mapped[str | None] = mapped_column(String(55))
    """The W3C trace context of the work that recorded the event, when tracing is on: the
    relay's span continues it, and the message carries the relay's in its headers (the
    envelope, the contract consumers read, is the same with tracing on or off)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
