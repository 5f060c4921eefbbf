"""items' models; importing this module registers every table on `Base.metadata`."""

from items.models.base import Base
from items.models.events import (
    ErasureJob,
    InboxEvent,
    InboxOutcome,
    RevocationFeedEntry,
    UserEventSequence,
)
from items.models.idempotency import IdempotencyRecord
from items.models.item import (
    ALLOWED_TRANSITIONS,
    LISTING_COLUMNS,
    Item,
    ItemListing,
    ItemSnapshot,
    ItemStatus,
)
from items.models.tag import MAX_TAGS_PER_ITEM, TAG_PATTERN, ItemTag

__all__ = [
    "ALLOWED_TRANSITIONS",
    "LISTING_COLUMNS",
    "MAX_TAGS_PER_ITEM",
    "TAG_PATTERN",
    "Base",
    "ErasureJob",
    "IdempotencyRecord",
    "InboxEvent",
    "InboxOutcome",
    "Item",
    "ItemListing",
    "ItemSnapshot",
    "ItemStatus",
    "ItemTag",
    "RevocationFeedEntry",
    "UserEventSequence",
]
