"""The mail outbox: mails asked for, claimed one at a time by the workers, retried, given up."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from identity.models import MailKind, OutboundMail
from service_kit.db import BaseRepository


class MailOutboxRepository(BaseRepository[OutboundMail]):
    model = OutboundMail

    def enqueue(self, kind: MailKind, recipient: str, *, now: datetime) -> None:
        """One mail to send, in the caller's transaction (Core: nothing reads the row back)."""
        self.session.connection().execute(
            insert(OutboundMail),
            {
                "kind": kind,
                "recipient": recipient,
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            },
        )

    def claim_due(self, *, now: datetime) -> OutboundMail | None:
        """The mail due first that no other worker holds, locked until the transaction ends
        (`FOR UPDATE SKIP LOCKED`: workers running at once send different mails)."""
        stmt = (
            select(OutboundMail)
            .where(OutboundMail.failed_at.is_(None), OutboundMail.next_attempt_at <= now)
            .order_by(OutboundMail.next_attempt_at, OutboundMail.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(stmt).first()

    def remove(self, mail_id: int) -> None:
        self.session.execute(delete(OutboundMail).where(OutboundMail.id == mail_id))

    def note_failure(
        self, mail_id: int, *, error: str, retry_at: datetime, failed_at: datetime | None
    ) -> None:
        """One more failed attempt: retried at `retry_at`, or given up (`failed_at`)."""
        self.session.execute(
            update(OutboundMail)
            .where(OutboundMail.id == mail_id)
            .values(
                attempts=OutboundMail.attempts + 1,
                last_error=error[:200],
                next_attempt_at=retry_at,
                failed_at=failed_at,
            )
        )

    def count_due(self, *, now: datetime) -> int:
        stmt = select(func.count()).where(
            OutboundMail.failed_at.is_(None), OutboundMail.next_attempt_at <= now
        )
        return int(self.session.scalar(stmt) or 0)

    def list_recent(self, *, limit: int, failed_only: bool) -> Sequence[OutboundMail]:
        stmt = select(OutboundMail)
        if failed_only:
            stmt = stmt.where(OutboundMail.failed_at.is_not(None))
        return self.session.scalars(stmt.order_by(OutboundMail.id.desc()).limit(limit)).all()
