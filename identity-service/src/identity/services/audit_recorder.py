"""Security events into the audit log, in the transaction of what they record.

Where the request came from (address, user agent, request id) is read from
`service_kit.origin`, which the HTTP layer binds per request; a CLI command records none.
Nothing secret is ever passed in: no password, token, code or submitted email.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from identity.models import AuditEventType
from identity.repositories.audit_repository import AuditRepository
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import BoundWrite
from service_kit.origin import current_origin


class AuditRecorder:
    """Appends audit events; the caller's `transaction()` commits them with its change."""

    def __init__(
        self,
        session: Session,
        *,
        events: AuditRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._events = events or AuditRepository(session)
        self._clock = clock

    def record(
        self,
        type_: AuditEventType,
        *,
        actor_id: uuid.UUID | None = None,
        subject_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
        system: bool = False,
        alongside: Sequence[BoundWrite] = (),
    ) -> None:
        """`system`: the event is the service's own doing, not the request's that happens to
        be running (the first signing key, made during some caller's request): no origin.
        `alongside`: independent writes of the same transaction sent in the event's round trip
        (a login's success forgets its throttle so)."""
        origin = None if system else current_origin()
        self._events.append(
            {
                "public_id": uuid.uuid4(),
                "type": type_,
                "occurred_at": self._clock.now(),
                "actor_id": actor_id,
                "subject_id": subject_id,
                "ip": origin.ip if origin else None,
                "user_agent": origin.user_agent if origin else None,
                "request_id": origin.request_id if origin else None,
                "detail": detail or {},
            },
            alongside=alongside,
        )
