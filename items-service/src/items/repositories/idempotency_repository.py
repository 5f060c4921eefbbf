"""Idempotency records."""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from items.models import IdempotencyRecord
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows, insert_skipping_conflicts


class IdempotencyRepository(BaseRepository[IdempotencyRecord]):
    model = IdempotencyRecord

    def find_by_key(self, *, owner_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
        )
        return self.session.scalars(stmt).one_or_none()

    def claim(self, values: Mapping[str, Any]) -> bool:
        """Insert the record with these column values unless its owner already holds its key
        (in one statement, `ON CONFLICT DO NOTHING`: of racing requests exactly one claims the
        key); whether it was inserted."""
        statement = insert_skipping_conflicts(
            IdempotencyRecord, tuple(values), conflict=("owner_id", "key"), returning="id"
        )
        return self.session.connection().execute(statement, values).first() is not None

    def delete_expired_key(self, *, owner_id: uuid.UUID, key: str, now: datetime) -> None:
        self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.expires_at <= now,
            )
        )

    def delete_expired(self, *, now: datetime) -> int:
        return affected_rows(
            self.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
            )
        )

    def delete_some_of_owner(self, owner_id: uuid.UUID, *, limit: int) -> int:
        """Delete up to `limit` of the owner's records; how many were deleted."""
        batch = (
            select(IdempotencyRecord.id).where(IdempotencyRecord.owner_id == owner_id).limit(limit)
        )
        return affected_rows(
            self.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(batch.scalar_subquery())),
                execution_options={"synchronize_session": False},
            )
        )
