"""Reading and pruning the audit log (events are written by `AuditRecorder` in the services)."""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from identity.models import AuditEvent, AuditEventType
from identity.repositories.audit_repository import AuditFilter, AuditRepository
from identity.repositories.user_repository import UserRepository
from identity.services.user_service import require_live_admin
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import KeysetPosition, Page, page_from_rows, transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditListParams:
    type: AuditEventType | None = None
    subject_id: uuid.UUID | None = None
    """Events about this user."""


class AuditService:
    """The audit log's use cases: a page of events for admins and operators, and retention."""

    def __init__(
        self,
        session: Session,
        *,
        retention_days: int,
        events: AuditRepository | None = None,
        users: UserRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._session = session
        self._retention = timedelta(days=retention_days)
        self._events = events or AuditRepository(session)
        self._users = users or UserRepository(session)
        self._clock = clock

    def list_events(
        self, params: AuditListParams, *, limit: int, after: KeysetPosition | None
    ) -> Page[AuditEvent]:
        """Newest first, with no permission check (operators' CLI)."""
        where = AuditFilter(type=params.type, subject_id=params.subject_id)
        rows = self._events.list_page(where, limit=limit + 1, after=after)
        return page_from_rows(
            rows, limit=limit, position=lambda event: KeysetPosition(event.occurred_at, event.id)
        )

    def admin_list_events(
        self,
        params: AuditListParams,
        *,
        actor_id: uuid.UUID,
        limit: int,
        after: KeysetPosition | None,
    ) -> Page[AuditEvent]:
        """Raises:
        PermissionDeniedError: the actor is not, or no longer, a live admin.
        """
        require_live_admin(self._users, actor_id)
        return self.list_events(params, limit=limit, after=after)

    def prune(self) -> int:
        """Delete the events older than the retention; how many."""
        with transaction(self._session):
            deleted = self._events.delete_before(self._clock.now() - self._retention)
        logger.info("audit events pruned", extra={"count": deleted})
        return deleted
