"""Idempotency records: which item a POST with an `Idempotency-Key` created, and how it
answered, so that a repeat answers the same."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from items.models.base import Base
from items.models.item import Item, ItemSnapshot, ItemStatus
from service_kit.db import PublicIdMixin, TimestampMixin, UTCDateTime, str_enum


class IdempotencyRecord(PublicIdMixin, TimestampMixin, Base):
    """One key per owner; the unique constraint decides which of racing requests wins.

    The `item_*` columns keep the item as the first request created it (a replay answers with
    those values, whatever happened to the item since). They are nullable because a version
    without them may still be serving while this schema rolls out: a record such a version
    writes has none, and is replayed from the item as it is now.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("owner_id", "key", name="uq_idempotency_owner_key"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # Indexed: deleting an item looks its records up for the cascade (erasing a user's items).
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    item_public_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    item_name: Mapped[str | None] = mapped_column(String(100))
    item_description: Mapped[str | None] = mapped_column(Text)
    item_status: Mapped[ItemStatus | None] = mapped_column(str_enum(ItemStatus, name="item_status"))
    item_version: Mapped[int | None]
    item_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    item_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @classmethod
    def for_created_item(
        cls,
        item: Item,
        *,
        key: str,
        request_hash: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> "IdempotencyRecord":
        """The record of `item`, just created (flushed, so its id is known) under `key`."""
        return cls(
            **cls.values_for_created_item(
                item.id,
                item.snapshot(),
                key=key,
                request_hash=request_hash,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    @staticmethod
    def values_for_created_item(
        item_id: int | None,
        item: ItemSnapshot,
        *,
        key: str,
        request_hash: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> dict[str, Any]:
        """The column values of the record of `item` (whose integer key is `item_id`; None
        where the statement draws it itself), created under `key`: what a Core INSERT of the
        record binds."""
        return {
            "public_id": uuid.uuid4(),
            "owner_id": item.owner_id,
            "key": key,
            "request_hash": request_hash,
            "item_id": item_id,
            "created_at": created_at,
            "updated_at": created_at,
            "expires_at": expires_at,
            "item_public_id": item.public_id,
            "item_name": item.name,
            "item_description": item.description,
            "item_status": item.status,
            "item_version": item.version,
            "item_created_at": item.created_at,
            "item_updated_at": item.updated_at,
        }

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def created_item(self) -> ItemSnapshot | None:
        """The item as the first request created it; None if this record does not keep it."""
        if (
            self.item_public_id is None
            or self.item_name is None
            or self.item_status is None
            or self.item_version is None
            or self.item_created_at is None
            or self.item_updated_at is None
        ):
            return None
        return ItemSnapshot(
            public_id=self.item_public_id,
            name=self.item_name,
            description=self.item_description,
            status=self.item_status,
            owner_id=self.owner_id,
            version=self.item_version,
            created_at=self.item_created_at,
            updated_at=self.item_updated_at,
        )
