"""Tags: short labels an item's owner puts on the item (the walkthrough in
docs/adding-a-resource.md builds this resource layer by layer)."""

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from items.models.base import Base
from service_kit.db import UTCDateTime

MAX_TAGS_PER_ITEM: Final = 10
TAG_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,31}$"
"""1-32 characters: lowercase letters, digits and `-`, not starting with `-`."""


class ItemTag(Base):
    """One tag on one item; an item has each tag at most once (the unique constraint)."""

    __tablename__ = "item_tags"
    __table_args__ = (UniqueConstraint("item_id", "name", name="uq_item_tags_item_name"),)

    # The item's rows go with it: erasing a user's items takes their tags too.
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
