"""items' models; importing this module registers every table on `Base.metadata`."""

from items.models.base import Base
from items.models.idempotency import IdempotencyRecord
from items.models.item import (
    ALLOWED_TRANSITIONS,
    LISTING_COLUMNS,
    Item,
    ItemListing,
    ItemSnapshot,
    ItemStatus,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "LISTING_COLUMNS",
    "Base",
    "IdempotencyRecord",
    "Item",
    "ItemListing",
    "ItemSnapshot",
    "ItemStatus",
]
