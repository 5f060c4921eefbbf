"""Idempotency records."""

import uuid
from datetime import datetime

from sqlalchemy import delete, select

from items.models import IdempotencyRecord
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


class IdempotencyRepository(BaseRepository[IdempotencyRecord]):
    model = IdempotencyRecord

    def find_by_key(self, *, owner_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
        )
        return self.session.scalars(stmt).one_or_none()

    def delete_expired_key(self, *, owner_id: uuid.UUID, key: str, now: datetime) -> None:
        self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.expires_at <= now,
            )
        )

    def delete_expired(self, *, now: datetime, limit: int) -> int:
        """Delete up to `limit` records past their TTL; how many were deleted."""
        batch = select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now).limit(limit)
        return affected_rows(
            self.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(batch.scalar_subquery())),
                execution_options={"synchronize_session": False},
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
