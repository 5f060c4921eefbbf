"""The event inbox and each user's newest applied sequence."""

import uuid
from datetime import datetime

from sqlalchemy import delete, update

from items.models import InboxEvent, InboxOutcome, UserEventSequence
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows, insert_or_skip


class EventInboxRepository(BaseRepository[InboxEvent]):
    model = InboxEvent

    def add_if_new(
        self,
        *,
        event_id: uuid.UUID,
        event_type: str,
        sequence: int | None,
        occurred_at: datetime,
        received_at: datetime,
    ) -> int | None:
        """Record the event as applied; its row id, or None when the event id is recorded
        already. A concurrent insert of the same id waits for the other transaction and then
        finds it, so of two deliveries racing exactly one gets an id."""
        stmt = (
            insert_or_skip(self.session, InboxEvent)
            .values(
                event_id=event_id,
                event_type=event_type,
                sequence=sequence,
                outcome=InboxOutcome.APPLIED,
                occurred_at=occurred_at,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(InboxEvent.id)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def mark(self, row_id: int, outcome: InboxOutcome) -> None:
        self.session.execute(
            update(InboxEvent).where(InboxEvent.id == row_id).values(outcome=outcome)
        )

    def delete_received_before(self, instant: datetime) -> int:
        return affected_rows(
            self.session.execute(delete(InboxEvent).where(InboxEvent.received_at < instant))
        )


class UserSequenceRepository(BaseRepository[UserEventSequence]):
    model = UserEventSequence

    def advance(self, user_id: uuid.UUID, sequence: int, *, at: datetime) -> bool:
        """Make `sequence` the user's newest when it is higher than the one stored; whether it
        was. The user's row stays locked until the transaction ends, so events of one user are
        applied one at a time even by several consumers."""
        insert = insert_or_skip(self.session, UserEventSequence).values(
            user_id=user_id, sequence=sequence, updated_at=at
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"sequence": insert.excluded.sequence, "updated_at": insert.excluded.updated_at},
            where=UserEventSequence.sequence < insert.excluded.sequence,
        ).returning(UserEventSequence.id)
        return self.session.execute(upsert).scalar_one_or_none() is not None
