"""Integration events, written to the outbox inside the transaction of the change they announce.

A change and its events commit or roll back together: no event without its change, no change
without its event. The relay (`outbox_service.OutboxRelay`) publishes them afterwards.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from identity.models import RevokeReason, User
from identity.repositories.outbox_repository import OutboxRepository
from service_kit import tracing
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.events.contract import (
    CloudEvent,
    KeyRetired,
    KeyRotated,
    Payload,
    SessionRevoked,
    TokensRevoked,
    UserChanges,
    UserDeleted,
    UserRegistered,
    UserUpdated,
)


class EventRecorder:
    """Writes events to the outbox; the caller's `transaction()` commits them.

    Every user event takes the user's next `sequence`. Callers hold the user's row lock
    (`UserRepository.find_by_id_for_update`, or a row they have just inserted), so a user's
    events are numbered in the order their transactions commit.
    """

    def __init__(
        self,
        session: Session,
        *,
        outbox: OutboxRepository | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._outbox = outbox or OutboxRepository(session)
        self._clock = clock

    def user_registered(self, user: User) -> None:
        self._record(
            UserRegistered(
                user_id=user.public_id,
                sequence=user.next_event_sequence(),
                role=user.role.value,
                is_active=user.is_active,
            )
        )

    def user_updated(self, user: User, changes: UserChanges) -> None:
        self._record(
            UserUpdated(
                user_id=user.public_id, sequence=user.next_event_sequence(), changes=changes
            )
        )

    def user_deleted(self, user: User) -> None:
        self._record(UserDeleted(user_id=user.public_id, sequence=user.next_event_sequence()))

    def sessions_revoked(
        self, user: User, session_ids: Sequence[uuid.UUID], *, reason: RevokeReason
    ) -> None:
        """Announce revoked sessions; nothing when none was revoked."""
        if not session_ids:
            return
        self._record(
            SessionRevoked(
                user_id=user.public_id,
                sequence=user.next_event_sequence(),
                session_ids=sorted(session_ids),
                reason=reason,
            )
        )

    def tokens_revoked(self, user: User, *, not_before: datetime, reason: RevokeReason) -> None:
        """Announce `User.revoke_access_tokens`: tokens with `iat` before `not_before` are void."""
        self._record(
            TokensRevoked(
                user_id=user.public_id,
                sequence=user.next_event_sequence(),
                not_before=not_before,
                reason=reason,
            )
        )

    def key_rotated(self, kid: str) -> None:
        self._record(KeyRotated(kid=kid))

    def key_retired(self, kid: str) -> None:
        self._record(KeyRetired(kid=kid))

    def _record(self, payload: Payload) -> None:
        event = CloudEvent.of(payload, event_id=uuid.uuid4(), time=self._clock.now())
        # The request's trace context (None unless tracing is on), for the relay's span.
        self._outbox.add_event(event, traceparent=tracing.current_traceparent())
