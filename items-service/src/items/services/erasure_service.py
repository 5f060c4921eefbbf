"""Erasing deleted users' data: every item (soft-deleted ones too) and idempotency record, in
batches of bounded size, each batch its own transaction.

A job is created once, with the deletion event (see `IdentityEventService`), and is worked
through by whichever eraser takes it next (`SELECT ... FOR UPDATE SKIP LOCKED`, so several
consumer processes share the work without doing it twice). Each batch commits its deletions and
the job's progress together, so a crash loses at most the batch in flight, and the next eraser
goes on where it stopped. A user with a million items never holds one huge transaction.

Once a batch finds nothing left, the job waits `ERASURE_SWEEP_DELAY` after the deletion and
sweeps once more before it is completed: a request that verified the user's token just before
the revocation reached its worker may still have been creating an item.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy.orm import Session

from items.repositories.erasure_repository import ErasureJobRepository
from items.repositories.idempotency_repository import IdempotencyRepository
from items.repositories.item_repository import ItemRepository
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction

logger = logging.getLogger(__name__)

ERASURE_SWEEP_DELAY: Final = timedelta(seconds=60)
"""Longer than a request may run (gunicorn's 30 s timeout) plus a revocation's way to every
worker (well under a second)."""


@dataclass(frozen=True, slots=True)
class ErasureStep:
    """What one batch did."""

    user_id: uuid.UUID
    items_erased: int
    idempotency_records_erased: int
    is_completed: bool


class ErasureService:
    """Works through erasure jobs one batch at a time."""

    def __init__(
        self,
        session: Session,
        *,
        batch_size: int = 1000,
        clock: Clock = SYSTEM_CLOCK,
        jobs: ErasureJobRepository | None = None,
        items: ItemRepository | None = None,
        idempotency: IdempotencyRepository | None = None,
    ) -> None:
        self._session = session
        self._batch_size = batch_size
        self._clock = clock
        self._jobs = jobs or ErasureJobRepository(session)
        self._items = items or ItemRepository(session)
        self._idempotency = idempotency or IdempotencyRepository(session)

    def erase_next_batch(self) -> ErasureStep | None:
        """Erase one batch of the oldest due job; None when no job is due."""
        now = self._clock.now()
        with transaction(self._session):
            job = self._jobs.claim_next(now=now)
            if job is None:
                return None
            records = self._idempotency.delete_some_of_owner(job.user_id, limit=self._batch_size)
            items = self._items.delete_some_of_owner(job.user_id, limit=self._batch_size)
            job.items_erased += items
            job.idempotency_records_erased += records
            if items < self._batch_size and records < self._batch_size:  # nothing left now
                sweep_at = job.requested_at + ERASURE_SWEEP_DELAY
                if now >= sweep_at:
                    job.completed_at = now
                else:
                    job.run_after = sweep_at
            self._jobs.flush()
            step = ErasureStep(
                user_id=job.user_id,
                items_erased=items,
                idempotency_records_erased=records,
                is_completed=job.is_completed,
            )
        if step.is_completed:
            logger.info(
                "user data erased",
                extra={
                    "user_id": str(step.user_id),
                    "items": job.items_erased,
                    "idempotency_records": job.idempotency_records_erased,
                },
            )
        return step

    def count_pending(self) -> int:
        return self._jobs.count_pending()
