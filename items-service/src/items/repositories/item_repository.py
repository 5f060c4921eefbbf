"""Item queries. Lookups for users are scoped by owner, so callers cannot skip authorisation."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, insert, literal, select, tuple_

from items.models import Item, ItemStatus
from service_kit.db import BaseRepository, KeysetPosition, UTCDateTime, escape_like


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """What the list query narrows by; `owner_id=None` means every owner (admins)."""

    owner_id: uuid.UUID | None
    status: ItemStatus | None = None
    name_contains: str | None = None


class ItemRepository(BaseRepository[Item]):
    model = Item

    def find_live(self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> Item | None:
        """A live item; `owner_id=None` means any owner (admins)."""
        stmt = self._scoped(public_id, owner_id).where(Item.deleted_at.is_(None))
        return self.session.scalars(stmt).one_or_none()

    def find_live_for_update(
        self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None
    ) -> Item | None:
        """Like `find_live`, locking the row until the transaction ends (writes serialise)."""
        stmt = self._scoped(public_id, owner_id).where(Item.deleted_at.is_(None))
        return self.session.scalars(stmt.with_for_update()).one_or_none()

    def find_deleted_for_update(
        self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None
    ) -> Item | None:
        stmt = self._scoped(public_id, owner_id).where(Item.deleted_at.isnot(None))
        return self.session.scalars(stmt.with_for_update()).one_or_none()

    def list_page(
        self, where: ItemFilter, *, limit: int, after: KeysetPosition | None, newest_first: bool
    ) -> Sequence[Item]:
        """Live items in (created_at, id) order, continuing after `after`: no OFFSET, no COUNT."""
        stmt = select(Item).where(Item.deleted_at.is_(None))
        if where.owner_id is not None:
            stmt = stmt.where(Item.owner_id == where.owner_id)
        if where.status is not None:
            stmt = stmt.where(Item.status == where.status)
        if where.name_contains:
            pattern = f"%{escape_like(where.name_contains)}%"
            stmt = stmt.where(Item.name.ilike(pattern, escape="\\"))
        key = tuple_(Item.created_at, Item.id)
        if after is not None:
            bound = tuple_(literal(after.created_at, UTCDateTime()), literal(after.id))
            stmt = stmt.where(key < bound if newest_first else key > bound)
        if newest_first:
            stmt = stmt.order_by(Item.created_at.desc(), Item.id.desc())
        else:
            stmt = stmt.order_by(Item.created_at.asc(), Item.id.asc())
        return self.session.scalars(stmt.limit(limit)).all()

    def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk insert (seeding); rows are column values."""
        if rows:
            self.session.execute(insert(Item), list(rows))

    @staticmethod
    def _scoped(public_id: uuid.UUID, owner_id: uuid.UUID | None) -> Select[tuple[Item]]:
        stmt = select(Item).where(Item.public_id == public_id)
        return stmt if owner_id is None else stmt.where(Item.owner_id == owner_id)
