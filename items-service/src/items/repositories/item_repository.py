"""Item queries. Lookups for users are scoped by owner, so callers cannot skip authorisation."""

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, bindparam, delete, insert, select, text

from items.models import (
    LISTING_COLUMNS,
    IdempotencyRecord,
    Item,
    ItemListing,
    ItemSnapshot,
    ItemStatus,
)
from service_kit.db import (
    BaseRepository,
    CreationOrder,
    KeysetPosition,
    escape_like,
    keyset_after,
    keyset_order,
    keyset_params,
)
from service_kit.db.repository import affected_rows, insert_skipping_conflicts


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """What the list query narrows by; `owner_id=None` means every owner (admins)."""

    owner_id: uuid.UUID | None
    status: ItemStatus | None = None
    name_contains: str | None = None


class ItemRepository(BaseRepository[Item]):
    model = Item

    def find_live(self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> ItemListing | None:
        """A live item's values (a read projection, no entity); `owner_id=None` means any owner
        (admins)."""
        params: dict[str, Any] = {"public_id": public_id}
        if owner_id is not None:
            params["owner_id"] = owner_id
        statement = _live_statement(by_owner=owner_id is not None)
        row = self.session.connection().execute(statement, params).first()
        return ItemListing(*row) if row is not None else None

    def insert(self, item: ItemSnapshot) -> int:
        """Insert a new item with these values in one statement (no unit of work); its
        integer key."""
        return int(self.session.connection().execute(_INSERT, item.column_values()).scalar_one())

    def insert_claiming_key(
        self, item: ItemSnapshot, record: Callable[[int | None], Mapping[str, Any]]
    ) -> bool:
        """Insert `item` and its idempotency record (`record(item_id)`: the record's column
        values) unless the owner already holds the record's key; whether they were inserted.
        The unique constraint on (owner, key) decides between racing requests.

        On PostgreSQL this is one statement, which claims the key and inserts the item only if
        it did (nothing is written when the key is held). Elsewhere it is two statements, and a
        held key leaves the item inserted: the caller's transaction must then roll back."""
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            item_values = item.column_values()
            values = dict(record(None))
            del values["item_id"]  # the statement draws it from the items' sequence
            params = {**item_values, **{f"record_{k}": v for k, v in values.items()}}
            statement = _claim_then_insert(tuple(item_values), tuple(values))
            return connection.execute(statement, params).first() is not None
        row = record(self.insert(item))
        claim = insert_skipping_conflicts(
            IdempotencyRecord, tuple(row), conflict=_KEY, returning="id"
        )
        return connection.execute(claim, row).first() is not None

    def find_live_for_update(
        self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None
    ) -> Item | None:
        """Like `find_live`, locking the row until the transaction ends (writes serialise)."""
        stmt = self._scoped(public_id, owner_id).where(Item.deleted_at.is_(None))
        return self.session.scalars(stmt.with_for_update()).one_or_none()

    def find_for_update(self, public_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> Item | None:
        """A live or soft-deleted item, locked until the transaction ends."""
        stmt = self._scoped(public_id, owner_id)
        return self.session.scalars(stmt.with_for_update()).one_or_none()

    def list_page(
        self, where: ItemFilter, *, limit: int, after: KeysetPosition | None, order: CreationOrder
    ) -> list[ItemListing]:
        """Live items in (created_at, id) order, continuing after `after`: no OFFSET, no COUNT."""
        stmt = _page_statement(
            by_owner=where.owner_id is not None,
            by_status=where.status is not None,
            by_name=bool(where.name_contains),
            after=after is not None,
            order=order,
        )
        params: dict[str, Any] = {"limit": limit}
        if where.owner_id is not None:
            params["owner_id"] = where.owner_id
        if where.status is not None:
            params["status"] = where.status
        if where.name_contains:
            params["pattern"] = f"%{escape_like(where.name_contains)}%"
        if after is not None:
            params.update(keyset_params(after))
        return [ItemListing(*row) for row in self.session.connection().execute(stmt, params)]

    def add_many(self, items: Sequence[ItemSnapshot]) -> None:
        """Bulk insert (seeding): one executemany of the items' rows."""
        if items:
            self.session.execute(insert(Item), [item.column_values() for item in items])

    def delete_some_of_owner(self, owner_id: uuid.UUID, *, limit: int) -> int:
        """Delete up to `limit` of the owner's items, live or soft-deleted (each kind through
        its own partial index); how many were deleted. Their idempotency records go with them
        (ON DELETE CASCADE)."""
        deleted = 0
        for kept in (Item.deleted_at.is_(None), Item.deleted_at.isnot(None)):
            if deleted >= limit:
                break
            batch = select(Item.id).where(Item.owner_id == owner_id, kept).limit(limit - deleted)
            deleted += affected_rows(
                self.session.execute(
                    delete(Item).where(Item.id.in_(batch.scalar_subquery())),
                    execution_options={"synchronize_session": False},
                )
            )
        return deleted

    @staticmethod
    def _scoped(public_id: uuid.UUID, owner_id: uuid.UUID | None) -> Select[tuple[Item]]:
        stmt = select(Item).where(Item.public_id == public_id)
        return stmt if owner_id is None else stmt.where(Item.owner_id == owner_id)


_INSERT: Final = insert(Item).returning(Item.id)
_KEY: Final = ("owner_id", "key")


@functools.cache
def _claim_then_insert(item_columns: tuple[str, ...], record_columns: tuple[str, ...]) -> Any:
    """PostgreSQL: claim the idempotency key and insert the item in one statement. The record
    takes the item's id from the items' sequence; the item is inserted only from the claim's
    returned row, so a held key (ON CONFLICT DO NOTHING) inserts nothing at all. The foreign
    key is checked at the end of the statement, when the item exists. Items bind by column
    name, the record's values as `record_<column>`; each with its column's type."""
    items, records = Item.__table__, IdempotencyRecord.__table__

    def names(columns: tuple[str, ...]) -> str:
        return ", ".join(f'"{name}"' for name in columns)

    def params(columns: tuple[str, ...], prefix: str = "") -> str:
        return ", ".join(f":{prefix}{name}" for name in columns)

    sql = f"""
        WITH claim AS (
            INSERT INTO idempotency_records ("item_id", {names(record_columns)})
            VALUES (
                nextval(pg_get_serial_sequence('items', 'id')),
                {params(record_columns, "record_")}
            )
            ON CONFLICT ({names(_KEY)}) DO NOTHING
            RETURNING "item_id"
        )
        INSERT INTO items ("id", {names(item_columns)})
        SELECT "item_id", {params(item_columns)} FROM claim
        RETURNING "id"
    """  # noqa: S608 - identifiers are the tables' own columns (typed below); values are bound
    typed = [bindparam(name, type_=items.c[name].type) for name in item_columns]
    typed += [bindparam(f"record_{name}", type_=records.c[name].type) for name in record_columns]
    return text(sql).bindparams(*typed).columns(items.c.id)


@functools.cache
def _live_statement(*, by_owner: bool) -> Select[Any]:
    """One live item by public id (and owner), built once: reads of one item are hot."""
    stmt = select(*LISTING_COLUMNS).where(
        Item.public_id == bindparam("public_id"), Item.deleted_at.is_(None)
    )
    return stmt.where(Item.owner_id == bindparam("owner_id")) if by_owner else stmt


@functools.cache
def _page_statement(
    *, by_owner: bool, by_status: bool, by_name: bool, after: bool, order: CreationOrder
) -> Select[Any]:
    """The list query for one combination of filters, built once: it is the hot path, and
    building a statement costs more than executing a cached one. Values are bound per call."""
    stmt = select(*LISTING_COLUMNS).where(Item.deleted_at.is_(None))
    if by_owner:
        stmt = stmt.where(Item.owner_id == bindparam("owner_id"))
    if by_status:
        stmt = stmt.where(Item.status == bindparam("status"))
    if by_name:
        stmt = stmt.where(Item.name.ilike(bindparam("pattern"), escape="\\"))
    if after:
        stmt = stmt.where(keyset_after(Item.created_at, Item.id, order=order))
    stmt = stmt.order_by(*keyset_order(Item.created_at, Item.id, order=order))
    return stmt.limit(bindparam("limit"))
