"""Audit events: appended, listed newest first, pruned past their retention."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, insert, select

from identity.models import AuditEvent, AuditEventType
from service_kit.db import (
    BaseRepository,
    BoundWrite,
    CreationOrder,
    KeysetPosition,
    execute_alongside,
    keyset_after,
    keyset_order,
    keyset_params,
)
from service_kit.db.repository import affected_rows


@dataclass(frozen=True, slots=True)
class AuditFilter:
    type: AuditEventType | None = None
    subject_id: uuid.UUID | None = None


_APPEND: Final = insert(AuditEvent)


class AuditRepository(BaseRepository[AuditEvent]):
    model = AuditEvent

    def append(self, values: dict[str, Any], *, alongside: Sequence[BoundWrite] = ()) -> None:
        """Insert one event in one statement on the transaction's connection (no unit of work:
        nothing reads the row back, and a login pays for each event it writes); independent
        writes `alongside` ride in the same round trip (`execute_alongside`)."""
        execute_alongside(self.session, _APPEND, values, *alongside)

    def list_page(
        self, where: AuditFilter, *, limit: int, after: KeysetPosition | None
    ) -> Sequence[AuditEvent]:
        """Newest first, keyset-paginated on (occurred_at, id)."""
        order = CreationOrder.NEWEST_FIRST
        stmt = select(AuditEvent)
        if where.type is not None:
            stmt = stmt.where(AuditEvent.type == where.type)
        if where.subject_id is not None:
            stmt = stmt.where(AuditEvent.subject_id == where.subject_id)
        params: dict[str, object] = {}
        if after is not None:
            stmt = stmt.where(keyset_after(AuditEvent.occurred_at, AuditEvent.id, order=order))
            params = keyset_params(after)
        stmt = stmt.order_by(*keyset_order(AuditEvent.occurred_at, AuditEvent.id, order=order))
        return self.session.scalars(stmt.limit(limit), params).all()

    def delete_before(self, cutoff: datetime) -> int:
        """Delete the events that occurred before `cutoff`; how many."""
        stmt = delete(AuditEvent).where(AuditEvent.occurred_at < cutoff)
        return affected_rows(self.session.execute(stmt))
