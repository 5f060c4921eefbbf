"""Item use cases: ownership, status rules, optimistic concurrency and idempotent creation."""

import hashlib
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy.orm import Session

from items.errors import (
    IdempotencyKeyReusedError,
    InvalidStatusTransitionError,
    ItemNotFoundError,
    OwnerFilterForbiddenError,
)
from items.models import IdempotencyRecord, Item, ItemListing, ItemSnapshot, ItemStatus
from items.repositories.idempotency_repository import IdempotencyRepository
from items.repositories.item_repository import ItemFilter, ItemRepository
from items.schemas.item_schemas import ItemCreate, ItemUpdate
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import (
    CreationOrder,
    KeysetPosition,
    Page,
    idempotent_statement,
    page_from_rows,
    transaction,
)
from service_kit.errors import PreconditionFailedError, ServiceUnavailableError
from service_kit.progress import Advance, no_progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: users reach their own items only, admins reach every item."""

    user_id: uuid.UUID
    is_admin: bool

    @property
    def scope(self) -> uuid.UUID | None:
        """The owner every lookup is limited to (None for admins)."""
        return None if self.is_admin else self.user_id


@dataclass(frozen=True, slots=True)
class CreatedItem:
    """What creating answered: the new item, or (`is_replay`) the one a repeated
    Idempotency-Key created first, as it was then."""

    item: ItemSnapshot
    is_replay: bool


@dataclass(frozen=True, slots=True)
class ItemListParams:
    status: ItemStatus | None = None
    name_contains: str | None = None
    owner_id: uuid.UUID | None = None
    order: CreationOrder = CreationOrder.NEWEST_FIRST


class ItemService:
    """Use cases on items."""

    def __init__(
        self,
        session: Session,
        *,
        items: ItemRepository | None = None,
        idempotency: IdempotencyRepository | None = None,
        idempotency_ttl_seconds: int = 86_400,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._items = items or ItemRepository(session)
        self._idempotency = idempotency or IdempotencyRepository(session)
        self._idempotency_ttl = timedelta(seconds=idempotency_ttl_seconds)
        self._clock = clock

    def create_item(
        self, actor: Actor, data: ItemCreate, *, idempotency_key: str | None = None
    ) -> CreatedItem:
        """Create an item. With an idempotency key, a repeat (same user, key and body, within
        the TTL) creates nothing and returns the item as the first request created it, even if
        it has been changed or deleted since; also when repeats race.

        No read comes first: the item and its idempotency record are written together, the
        record's `ON CONFLICT DO NOTHING` deciding between racing requests, and only when the
        key turns out to be held is its record read (and answered). On PostgreSQL that is one
        statement in autocommit, which inserts the item only if it claimed the key: a new key
        (the common case) costs one round trip. Elsewhere it is a transaction of two INSERTs,
        rolled back when the key is held.

        Raises:
            IdempotencyKeyReusedError: the key was used with a different body.
            ServiceUnavailableError: the key's record kept changing hands (its expiry and a
                new claim racing) through every attempt; a retry will settle it.
        """
        item = self._new_item(actor, data)
        if idempotency_key is None:
            with transaction(self._session):
                self._items.insert(item)
            logger.info("item created", extra={"item_id": str(item.public_id)})
            return CreatedItem(item, is_replay=False)
        request_hash = _fingerprint(data)
        for _attempt in range(_CLAIM_ATTEMPTS):
            if self._insert_claiming_key(item, key=idempotency_key, request_hash=request_hash):
                logger.info("item created", extra={"item_id": str(item.public_id)})
                return CreatedItem(item, is_replay=False)
            holder = self._idempotency.find_by_key(owner_id=actor.user_id, key=idempotency_key)
            if holder is None:
                continue  # pruned (or erased) since the claim failed: claim again
            if not holder.is_expired(item.created_at):
                return self._replay(holder, request_hash)
            with transaction(self._session):
                self._idempotency.delete_expired_key(
                    owner_id=actor.user_id, key=idempotency_key, now=item.created_at
                )
        raise ServiceUnavailableError("The Idempotency-Key is being claimed; try again.")

    def _insert_claiming_key(self, item: ItemSnapshot, *, key: str, request_hash: str) -> bool:
        """The item and its idempotency record in one transaction; False, and nothing written,
        when the owner already holds `key`."""
        try:
            # On PostgreSQL one statement, in autocommit: atomic by itself, and a second run
            # (after a lost connection) finds the key held and replays the first.
            with idempotent_statement(self._session):
                claimed = self._items.insert_claiming_key(
                    item,
                    lambda item_id: IdempotencyRecord.values_for_created_item(
                        item_id,
                        item,
                        key=key,
                        request_hash=request_hash,
                        created_at=item.created_at,
                        expires_at=item.created_at + self._idempotency_ttl,
                    ),
                )
                if not claimed:
                    raise _KeyHeldError()  # rolls back what was written
        except _KeyHeldError:
            return False
        return True

    def get_item(self, actor: Actor, item_id: uuid.UUID) -> ItemListing:
        """Raises:
        ItemNotFoundError: no live item with this id that the actor may see.
        """
        item = self._items.find_live(item_id, owner_id=actor.scope)
        if item is None:
            raise ItemNotFoundError()
        return item

    def list_items(
        self,
        actor: Actor,
        params: ItemListParams,
        *,
        limit: int,
        after: KeysetPosition | None,
    ) -> Page[ItemListing]:
        """One page of live items: the actor's own, or (admins) everyone's or one owner's.

        Raises:
            OwnerFilterForbiddenError: a non-admin asked for another owner's items.
        """
        if params.owner_id is not None and not actor.is_admin and params.owner_id != actor.user_id:
            raise OwnerFilterForbiddenError()
        owner = params.owner_id if params.owner_id is not None else actor.scope
        where = ItemFilter(owner_id=owner, status=params.status, name_contains=params.name_contains)
        rows = self._items.list_page(where, limit=limit + 1, after=after, order=params.order)
        return page_from_rows(
            rows, limit=limit, position=lambda item: KeysetPosition(item.created_at, item.id)
        )

    def update_item(
        self,
        actor: Actor,
        item_id: uuid.UUID,
        data: ItemUpdate,
        *,
        expected_versions: Collection[int] | None = None,
    ) -> Item:
        """Apply the fields present in `data`. With `expected_versions` (from If-Match) the
        update happens only if the item is still at one of them; the row lock makes that check
        and the write one step, so of concurrent updates with the same If-Match one wins.

        Raises:
            ItemNotFoundError: no live item with this id that the actor may see.
            PreconditionFailedError: the item changed since the given version.
            InvalidStatusTransitionError: the status change is not allowed.
        """
        with transaction(self._session):
            item = self._locked(actor, item_id)
            if expected_versions is not None and item.version not in expected_versions:
                raise PreconditionFailedError()
            if self._apply(item, data):
                item.record_change(at=self._clock.now())
                self._items.flush()
        return item

    def delete_item(self, actor: Actor, item_id: uuid.UUID) -> None:
        """Soft delete.

        Raises:
            ItemNotFoundError: no live item with this id that the actor may see.
        """
        with transaction(self._session):
            item = self._locked(actor, item_id)
            now = self._clock.now()
            item.soft_delete(at=now)
            item.record_change(at=now)
        logger.info("item deleted", extra={"item_id": str(item_id)})

    def restore_item(self, actor: Actor, item_id: uuid.UUID) -> Item:
        """Undo a soft delete. Restoring a live item changes nothing and returns it, so a retried
        restore (whose first answer was lost) gets the item back, not a 404.

        Raises:
            ItemNotFoundError: no item, live or deleted, with this id that the actor may see.
        """
        with transaction(self._session):
            item = self._locked(actor, item_id, deleted_too=True)
            was_deleted = item.is_deleted
            if was_deleted:
                item.restore()
                item.record_change(at=self._clock.now())
        if was_deleted:
            logger.info("item restored", extra={"item_id": str(item_id)})
        return item

    def seed_items(
        self,
        *,
        owner_id: uuid.UUID,
        count: int,
        batch_size: int = 5000,
        on_progress: Advance = no_progress,
    ) -> int:
        """Bulk-create `count` draft items for an owner (development and benchmarks), one
        transaction per `batch_size`: memory stays that of one batch, however many."""
        start = self._clock.now()
        for offset in range(0, count, batch_size):
            with transaction(self._session):
                self._items.add_many(
                    [
                        ItemSnapshot(
                            public_id=uuid.uuid4(),
                            name=f"Item {number + 1}",
                            description=None,
                            status=ItemStatus.DRAFT,
                            owner_id=owner_id,
                            version=1,
                            # distinct, increasing times so keyset order is the seeding order
                            created_at=start + timedelta(microseconds=number),
                            updated_at=start + timedelta(microseconds=number),
                        )
                        for number in range(offset, min(offset + batch_size, count))
                    ]
                )
            on_progress(min(batch_size, count - offset))
        logger.info("items seeded", extra={"owner_id": str(owner_id), "count": count})
        return count

    def prune_idempotency_records(
        self, *, batch_size: int = 10_000, on_progress: Advance = no_progress
    ) -> int:
        """Delete idempotency records past their TTL, `batch_size` per transaction (short
        transactions, however many expired); returns how many were deleted."""
        now = self._clock.now()
        deleted = 0
        while True:
            with transaction(self._session):
                batch = self._idempotency.delete_expired(now=now, limit=batch_size)
            deleted += batch
            on_progress(batch)
            if batch < batch_size:
                break
        logger.info("idempotency records pruned", extra={"count": deleted})
        return deleted

    def _locked(self, actor: Actor, item_id: uuid.UUID, *, deleted_too: bool = False) -> Item:
        """The item the actor may see (live, or also soft-deleted), its row locked until the
        transaction ends: call it inside one; writes to one item serialise on the lock.

        Raises:
            ItemNotFoundError: no such item that the actor may see.
        """
        find = self._items.find_for_update if deleted_too else self._items.find_live_for_update
        item = find(item_id, owner_id=actor.scope)
        if item is None:
            raise ItemNotFoundError()
        return item

    def _new_item(self, actor: Actor, data: ItemCreate) -> ItemSnapshot:
        now = self._clock.now()
        return ItemSnapshot(
            public_id=uuid.uuid4(),
            name=data.name,
            description=data.description,
            status=data.status,
            owner_id=actor.user_id,
            version=1,
            created_at=now,
            updated_at=now,
        )

    def _apply(self, item: Item, data: ItemUpdate) -> bool:
        fields = data.model_fields_set
        changed = False
        if "status" in fields and data.status is not None and data.status != item.status:
            if not item.can_become(data.status):
                raise InvalidStatusTransitionError(
                    f"An item cannot go from {item.status.value} to {data.status.value}."
                )
            item.status = data.status
            changed = True
        if "name" in fields and data.name is not None and data.name != item.name:
            item.name = data.name
            changed = True
        if "description" in fields and data.description != item.description:
            item.description = data.description
            changed = True
        return changed

    def _replay(self, record: IdempotencyRecord, request_hash: str) -> CreatedItem:
        if record.request_hash != request_hash:
            raise IdempotencyKeyReusedError()
        created = record.created_item()
        if created is None:
            # Written by a version that kept no snapshot (only while this one rolls out):
            # the item as it is now is the closest answer there is.
            item = self._items.get(record.item_id)
            if item is None:  # the FK cascades, so only a hard delete could get here
                raise ItemNotFoundError()
            created = item.snapshot()
        return CreatedItem(created, is_replay=True)


_CLAIM_ATTEMPTS: Final = 3
"""Claims of an Idempotency-Key per request: a second (and third) follows only when the key's
record expired or vanished between the failed claim and the read of its holder."""


class _KeyHeldError(Exception):
    """Raised inside the create transaction to roll it back: the key has a holder."""


def _fingerprint(data: ItemCreate) -> str:
    """Same body, same fingerprint: the validated model, serialised canonically."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()
