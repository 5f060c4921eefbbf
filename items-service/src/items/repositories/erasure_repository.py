"""Erasure jobs of deleted users."""

import uuid
from datetime import datetime

from sqlalchemy import func, select

from items.models import ErasureJob
from service_kit.db import BaseRepository
from service_kit.db.repository import insert_or_skip


class ErasureJobRepository(BaseRepository[ErasureJob]):
    model = ErasureJob

    def add_if_absent(
        self, *, user_id: uuid.UUID, event_id: uuid.UUID, requested_at: datetime
    ) -> bool:
        """A pending job for the user unless one exists; whether it was added."""
        stmt = (
            insert_or_skip(self.session, ErasureJob)
            .values(
                user_id=user_id,
                event_id=event_id,
                requested_at=requested_at,
                run_after=requested_at,
                items_erased=0,
                idempotency_records_erased=0,
            )
            .on_conflict_do_nothing(index_elements=["user_id"])
            .returning(ErasureJob.id)
        )
        return self.session.execute(stmt).scalar_one_or_none() is not None

    def claim_next(self, *, now: datetime) -> ErasureJob | None:
        """The oldest pending job due at `now`, locked; a job another eraser holds is skipped."""
        stmt = (
            select(ErasureJob)
            .where(ErasureJob.completed_at.is_(None), ErasureJob.run_after <= now)
            .order_by(ErasureJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(stmt).one_or_none()

    def find_by_user(self, user_id: uuid.UUID) -> ErasureJob | None:
        return self.session.scalars(
            select(ErasureJob).where(ErasureJob.user_id == user_id)
        ).one_or_none()

    def count_pending(self) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(ErasureJob)
                .where(ErasureJob.completed_at.is_(None))
            )
            or 0
        )
