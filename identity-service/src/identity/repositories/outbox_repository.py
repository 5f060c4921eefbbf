"""The outbox: integration events waiting for the relay, and those it has sent."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from identity.models import OutboxEvent
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows
from service_kit.events.contract import CloudEvent


@dataclass(frozen=True, slots=True)
class PendingPosition:
    id: int
    subject: str


@dataclass(frozen=True, slots=True)
class PendingSummary:
    count: int
    oldest_created_at: datetime | None


class OutboxRepository(BaseRepository[OutboxEvent]):
    """Outbox rows. Pending rows are claimed in id order, skipping rows another relay holds."""

    model = OutboxEvent

    def add_event(self, event: CloudEvent, *, traceparent: str | None = None) -> OutboxEvent:
        """Store `event` as a pending row, in the caller's transaction."""
        return self.add(
            OutboxEvent(
                event_id=event.id,
                event_type=event.type.value,
                subject=event.subject,
                envelope=event.to_json().decode(),
                traceparent=traceparent,
                created_at=event.time,
            )
        )

    def claim_pending(self, *, limit: int) -> Sequence[OutboxEvent]:
        """The oldest pending rows that no other transaction holds, locked until this one ends
        (`FOR UPDATE SKIP LOCKED`: relays running at once claim different rows)."""
        stmt = (
            select(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(stmt).all()

    def list_pending_positions(
        self, subjects: Collection[str], *, up_to_id: int
    ) -> Sequence[PendingPosition]:
        """Every pending row of these subjects up to `up_to_id`, locked by anyone or not."""
        stmt = (
            select(OutboxEvent.id, OutboxEvent.subject)
            .where(
                OutboxEvent.sent_at.is_(None),
                OutboxEvent.subject.in_(subjects),
                OutboxEvent.id <= up_to_id,
            )
            .order_by(OutboxEvent.id)
        )
        return [PendingPosition(row.id, row.subject) for row in self.session.execute(stmt)]

    def mark_sent(self, ids: Collection[int], *, at: datetime) -> None:
        if ids:
            self.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(sent_at=at)
                .execution_options(synchronize_session=False)
            )

    def summarise_pending(self) -> PendingSummary:
        stmt = select(func.count(), func.min(OutboxEvent.created_at)).where(
            OutboxEvent.sent_at.is_(None)
        )
        count, oldest = self.session.execute(stmt).one()
        return PendingSummary(int(count), oldest)

    def delete_sent_before(self, at: datetime) -> int:
        stmt = delete(OutboxEvent).where(OutboxEvent.sent_at < at)
        return affected_rows(self.session.execute(stmt))
