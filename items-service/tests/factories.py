"""Plain functions that put rows in the database with unique defaults (add + flush)."""

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from items.models import Item, ItemStatus


def make_item(
    session: Session,
    *,
    owner_id: uuid.UUID,
    name: str | None = None,
    status: ItemStatus = ItemStatus.DRAFT,
    description: str | None = None,
    created_at: datetime | None = None,
) -> Item:
    item = Item(
        owner_id=owner_id,
        name=name or f"item-{uuid.uuid4().hex[:8]}",
        status=status,
        description=description,
        version=1,
    )
    if created_at is not None:
        item.created_at = created_at
        item.updated_at = created_at
    session.add(item)
    session.flush()
    return item


def make_deleted_item(
    session: Session,
    *,
    owner_id: uuid.UUID,
    deleted_at: datetime,
    name: str | None = None,
    status: ItemStatus = ItemStatus.DRAFT,
) -> Item:
    """A soft-deleted item (restorable)."""
    item = make_item(session, owner_id=owner_id, name=name, status=status)
    item.soft_delete(at=deleted_at)
    session.flush()
    return item
