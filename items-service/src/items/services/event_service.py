"""Applying identity's integration events to items, each in one transaction with its inbox row.

- A redelivered event finds its event id in the inbox and has no second effect.
- `data.sequence` orders a user's events: the user's highest applied sequence is kept, and an
  older event is recorded as `stale`. Effects that would overwrite newer state skip a stale
  event. Revocations and deletion are facts no later event undoes (a session stays revoked, a
  not-before instant only grows, a deleted account stays deleted), so they are applied
  whatever their order: skipping an older logout because a newer event of the user came first
  would leave that session's tokens working, and skipping a deletion would keep the user's data.
- Revocations become rows of the revocation feed, which every worker's `RevocationView` polls;
  a key rotation or retirement becomes a feed row that makes every worker reload the JWKS.
- A deletion also voids every token of the user and queues an erasure job, which the consumer
  process works through in batches (`ErasureService`), so the event's transaction stays small
  whatever the user owns.
"""

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from items.models import InboxOutcome, RevocationFeedEntry
from items.repositories.erasure_repository import ErasureJobRepository
from items.repositories.event_repository import EventInboxRepository, UserSequenceRepository
from items.repositories.revocation_repository import RevocationFeedRepository
from service_kit.clock import SYSTEM_CLOCK, Clock
from service_kit.db import transaction
from service_kit.events.contract import (
    CloudEvent,
    KeyPayload,
    SessionRevoked,
    TokensRevoked,
    UserDeleted,
    UserPayload,
)
from service_kit.security.revocation import RevocationKind

logger = logging.getLogger(__name__)


class EventOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    outcome: EventOutcome
    erasure_queued: bool = False
    """A deleted user's erasure job was added: the eraser has work."""


@dataclass(frozen=True, slots=True)
class PrunedEventRecords:
    revocations: int
    inbox_events: int


class IdentityEventService:
    """Applies identity's events (the ones items subscribes to) and prunes what they left."""

    def __init__(
        self,
        session: Session,
        *,
        revocation_lifetime_seconds: int,
        inbox_retention_seconds: int = 7 * 86_400,
        clock: Clock = SYSTEM_CLOCK,
        inbox: EventInboxRepository | None = None,
        sequences: UserSequenceRepository | None = None,
        revocations: RevocationFeedRepository | None = None,
        erasures: ErasureJobRepository | None = None,
    ) -> None:
        """`revocation_lifetime_seconds`: how long after a revocation a token it voids could
        still be accepted (the longest access-token lifetime plus the clock leeway)."""
        self._session = session
        self._lifetime = timedelta(seconds=revocation_lifetime_seconds)
        self._inbox_retention = timedelta(seconds=inbox_retention_seconds)
        self._clock = clock
        self._inbox = inbox or EventInboxRepository(session)
        self._sequences = sequences or UserSequenceRepository(session)
        self._revocations = revocations or RevocationFeedRepository(session)
        self._erasures = erasures or ErasureJobRepository(session)

    def apply(self, event: CloudEvent) -> AppliedEvent:
        """Apply `event` once, in one transaction with its inbox row.

        Raises:
            pydantic.ValidationError: the event's data does not match its type (a poison
                message: the consumer retries it, then dead-letters it).
        """
        payload = event.payload()
        now = self._clock.now()
        user = payload if isinstance(payload, UserPayload) else None
        with transaction(self._session):
            row_id = self._inbox.add_if_new(
                event_id=event.id,
                event_type=event.type.value,
                sequence=user.sequence if user else None,
                occurred_at=event.time,
                received_at=now,
            )
            if row_id is None:
                return AppliedEvent(EventOutcome.DUPLICATE)
            is_newest = user is None or self._sequences.advance(user.user_id, user.sequence, at=now)
            erasure_queued = False
            if isinstance(payload, SessionRevoked):
                for session_id in payload.session_ids:
                    self._revoke_session(payload.user_id, session_id, at=event.time)
            elif isinstance(payload, TokensRevoked):
                self._revoke_tokens(payload.user_id, not_before=payload.not_before, now=now)
            elif isinstance(payload, UserDeleted):
                # Every token of the account is void from the deletion on (identity revokes
                # them too; this does not depend on that event's arrival).
                self._revoke_tokens(payload.user_id, not_before=event.time, now=now)
                erasure_queued = self._erasures.add_if_absent(
                    user_id=payload.user_id, event_id=event.id, requested_at=now
                )
            elif isinstance(payload, KeyPayload):
                self._revocations.append(
                    RevocationFeedEntry(
                        kind=RevocationKind.KEYS,
                        kid=payload.kid,
                        created_at=now,
                        expires_at=max(event.time, now) + self._lifetime,
                    )
                )
            # identity.user.updated changes nothing items keeps: its sequence is recorded.
            if not is_newest:
                self._inbox.mark(row_id, InboxOutcome.STALE)
        outcome = EventOutcome.APPLIED if is_newest else EventOutcome.STALE
        logger.info(
            "identity event handled",
            extra={"event_id": str(event.id), "type": event.type.value, "outcome": outcome},
        )
        return AppliedEvent(outcome, erasure_queued=erasure_queued)

    def prune_records(self) -> PrunedEventRecords:
        """Delete revocations no token can outlive any more, and inbox rows older than the
        retention (a redelivery that late finds the user's sequence instead)."""
        now = self._clock.now()
        with transaction(self._session):
            revocations = self._revocations.delete_expired(now=now)
            inbox_events = self._inbox.delete_received_before(now - self._inbox_retention)
        logger.info(
            "event records pruned",
            extra={"revocations": revocations, "inbox_events": inbox_events},
        )
        return PrunedEventRecords(revocations=revocations, inbox_events=inbox_events)

    def _revoke_session(self, user_id: uuid.UUID, session_id: uuid.UUID, *, at: datetime) -> None:
        self._revocations.append(
            RevocationFeedEntry(
                kind=RevocationKind.SESSION,
                user_id=user_id,
                session_id=session_id,
                created_at=self._clock.now(),
                expires_at=at + self._lifetime,
            )
        )

    def _revoke_tokens(self, user_id: uuid.UUID, *, not_before: datetime, now: datetime) -> None:
        # Whole seconds, rounded up: for a whole-second `iat`, iat < instant <=> iat < ceil.
        seconds = math.ceil(not_before.timestamp())
        self._revocations.append(
            RevocationFeedEntry(
                kind=RevocationKind.USER,
                user_id=user_id,
                not_before=seconds,
                created_at=now,
                expires_at=datetime.fromtimestamp(seconds, UTC) + self._lifetime,
            )
        )
