"""Items and their status rules."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from items.models.base import Base
from service_kit.db import (
    PublicIdMixin,
    SoftDeleteMixin,
    TimestampMixin,
    postgresql_only,
    str_enum,
)


class ItemStatus(StrEnum):
    """An item's stage: `draft` (the default), `active` or `archived`."""

    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


ALLOWED_TRANSITIONS: Final[frozenset[tuple[ItemStatus, ItemStatus]]] = frozenset(
    {
        (ItemStatus.DRAFT, ItemStatus.ACTIVE),
        (ItemStatus.DRAFT, ItemStatus.ARCHIVED),
        (ItemStatus.ACTIVE, ItemStatus.ARCHIVED),
        (ItemStatus.ARCHIVED, ItemStatus.ACTIVE),
    }
)

_LIVE = text("deleted_at IS NULL")
_DELETED = text("deleted_at IS NOT NULL")


class Item(PublicIdMixin, TimestampMixin, SoftDeleteMixin, Base):
    """A user's item. `owner_id` is the owner's public UUID (the token's `sub`); `version`
    counts changes and is the ETag."""

    __tablename__ = "items"
    __table_args__ = (
        # The list query: one owner's live items in keyset order, optionally by status.
        Index(
            "ix_items_owner_created",
            "owner_id",
            "created_at",
            "id",
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        Index(
            "ix_items_owner_status_created",
            "owner_id",
            "status",
            "created_at",
            "id",
            postgresql_where=_LIVE,
            sqlite_where=_LIVE,
        ),
        # Admins listing everyone's items.
        Index("ix_items_created", "created_at", "id", postgresql_where=_LIVE, sqlite_where=_LIVE),
        # Erasing a deleted user's soft-deleted items (the live ones are found by the above).
        Index(
            "ix_items_owner_deleted",
            "owner_id",
            postgresql_where=_DELETED,
            sqlite_where=_DELETED,
        ),
        # `q` (name contains, any case) across everyone's items: trigrams serve ILIKE '%q%'.
        postgresql_only(
            Index(
                "ix_items_name_trgm",
                "name",
                postgresql_using="gin",
                postgresql_ops={"name": "gin_trgm_ops"},
                postgresql_where=_LIVE,
            )
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ItemStatus] = mapped_column(
        str_enum(ItemStatus, name="item_status"),
        default=ItemStatus.DRAFT,
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    version: Mapped[int] = mapped_column(default=1)

    def can_become(self, status: ItemStatus) -> bool:
        """Staying in the same status is not a transition and is always allowed."""
        return status == self.status or (self.status, status) in ALLOWED_TRANSITIONS

    def record_change(self, *, at: datetime) -> None:
        """The caller changed the item: its version (the ETag) goes up and `updated_at` is `at`
        (the service's clock; left unset, the column's onupdate would stamp the wall clock)."""
        self.version += 1
        self.updated_at = at

    def snapshot(self) -> "ItemSnapshot":
        return ItemSnapshot(
            public_id=self.public_id,
            name=self.name,
            description=self.description,
            status=self.status,
            owner_id=self.owner_id,
            version=self.version,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    """An item's values at one moment, detached from the session: what creating it answered,
    which an idempotency record keeps so that a replay answers the same."""

    public_id: uuid.UUID
    name: str
    description: str | None
    status: ItemStatus
    owner_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime

    def column_values(self) -> dict[str, Any]:
        """The item's row (without its integer key): what a Core INSERT of it binds."""
        return {
            "public_id": self.public_id,
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "owner_id": self.owner_id,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class ItemListing(NamedTuple):
    """A read-only projection of an item for list pages and reads: plain values, no identity
    map and no change tracking, so a page of them costs a fraction of a page of `Item`
    entities."""

    id: int
    public_id: uuid.UUID
    name: str
    description: str | None
    status: ItemStatus
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int


LISTING_COLUMNS: Final = tuple(getattr(Item, name) for name in ItemListing._fields)
