"""Idempotency records: which item a POST with an `Idempotency-Key` created."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from items.models.base import Base
from service_kit.db import PublicIdMixin, TimestampMixin, UTCDateTime


class IdempotencyRecord(PublicIdMixin, TimestampMixin, Base):
    """One key per owner; the unique constraint decides which of racing requests wins."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("owner_id", "key", name="uq_idempotency_owner_key"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at
