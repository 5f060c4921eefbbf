"""Tag use cases: the tags of an item the actor may see, at most MAX_TAGS_PER_ITEM each."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from items.errors import ItemNotFoundError, TagNotFoundError, TooManyTagsError
from items.models import MAX_TAGS_PER_ITEM, Item, ItemTag
from items.repositories.item_repository import ItemRepository
from items.repositories.tag_repository import TagRepository
from items.services.item_service import Actor
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AddedTag:
    """The tag, and whether this call put it there (False: the item had it already)."""

    tag: ItemTag
    created: bool


class TagService:
    """Use cases on the tags of items. Writes lock the item first, so concurrent changes to
    one item's tags take turns and the limit holds."""

    def __init__(
        self,
        session: Session,
        *,
        items: ItemRepository | None = None,
        tags: TagRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._items = items or ItemRepository(session)
        self._tags = tags or TagRepository(session)
        self._clock = clock

    def list_tags(self, actor: Actor, item_id: uuid.UUID) -> Sequence[ItemTag]:
        """Raises:
        ItemNotFoundError: no live item with this id that the actor may see.
        """
        item = self._items.find_live(item_id, owner_id=actor.scope)
        if item is None:
            raise ItemNotFoundError()
        return self._tags.list_for_item(item.id)

    def add_tag(self, actor: Actor, item_id: uuid.UUID, name: str) -> AddedTag:
        """Put the tag on the item; a tag the item has already is answered as it is.

        Raises:
            ItemNotFoundError: no live item with this id that the actor may see.
            TooManyTagsError: the item has MAX_TAGS_PER_ITEM tags already.
        """
        with transaction(self._session):
            item = self._locked(actor, item_id)
            existing = self._tags.find(item.id, name)
            if existing is not None:
                return AddedTag(existing, created=False)
            if self._tags.count_for_item(item.id) >= MAX_TAGS_PER_ITEM:
                raise TooManyTagsError()
            tag = self._tags.add(ItemTag(item_id=item.id, name=name, created_at=self._clock.now()))
        logger.info("item tagged", extra={"item_id": str(item_id), "tag": name})
        return AddedTag(tag, created=True)

    def remove_tag(self, actor: Actor, item_id: uuid.UUID, name: str) -> None:
        """Raises:
        ItemNotFoundError: no live item with this id that the actor may see.
        TagNotFoundError: the item does not have this tag.
        """
        with transaction(self._session):
            item = self._locked(actor, item_id)
            if not self._tags.remove(item.id, name):
                raise TagNotFoundError()
        logger.info("item untagged", extra={"item_id": str(item_id), "tag": name})

    def _locked(self, actor: Actor, item_id: uuid.UUID) -> Item:
        item = self._items.find_live_for_update(item_id, owner_id=actor.scope)
        if item is None:
            raise ItemNotFoundError()
        return item
