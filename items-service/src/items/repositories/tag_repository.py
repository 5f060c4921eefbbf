"""Tags of items. The caller has found (and locked) the item first: these take its integer key."""

from collections.abc import Sequence

from sqlalchemy import delete, func, select

from items.models import ItemTag
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


class TagRepository(BaseRepository[ItemTag]):
    model = ItemTag

    def list_for_item(self, item_id: int) -> Sequence[ItemTag]:
        """The item's tags, by name."""
        stmt = select(ItemTag).where(ItemTag.item_id == item_id).order_by(ItemTag.name)
        return self.session.scalars(stmt).all()

    def find(self, item_id: int, name: str) -> ItemTag | None:
        stmt = select(ItemTag).where(ItemTag.item_id == item_id, ItemTag.name == name)
        return self.session.scalars(stmt).one_or_none()

    def count_for_item(self, item_id: int) -> int:
        stmt = select(func.count()).select_from(ItemTag).where(ItemTag.item_id == item_id)
        return self.session.scalar(stmt) or 0

    def remove(self, item_id: int, name: str) -> bool:
        """Whether the item had the tag."""
        stmt = delete(ItemTag).where(ItemTag.item_id == item_id, ItemTag.name == name)
        return affected_rows(self.session.execute(stmt)) == 1
