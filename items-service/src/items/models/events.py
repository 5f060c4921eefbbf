"""What items keeps of identity's integration events: an inbox of applied event ids, each user's
newest applied sequence, erasure jobs of deleted users, and the revocation feed every worker
polls.

These are internal bookkeeping tables: nothing in them is ever shown to a client, so they have
no public id.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from items.models.base import Base
from service_kit.db import UTCDateTime, str_enum
from service_kit.security.revocation import RevocationKind


class InboxOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    """Older than an event of the same user already applied: recorded, not applied."""


class InboxEvent(Base):
    """One row per event id handled: a redelivered event finds its row and has no effect."""

    __tablename__ = "event_inbox"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int | None]
    outcome: Mapped[InboxOutcome] = mapped_column(str_enum(InboxOutcome, name="inbox_outcome"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserEventSequence(Base):
    """The highest `data.sequence` applied for a user; an event with a lower one is stale."""

    __tablename__ = "user_event_sequences"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    sequence: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ErasureJob(Base):
    """A deleted user's data to erase, batch by batch; durable, so a crash only delays it.

    `run_after` is when the eraser may take the job next; `completed_at` is set once a sweep
    after `ERASURE_SWEEP_DELAY` (see the erasure service) found nothing left.
    """

    __tablename__ = "erasure_jobs"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    items_erased: Mapped[int] = mapped_column(default=0)
    idempotency_records_erased: Mapped[int] = mapped_column(default=0)

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None


class RevocationFeedEntry(Base):
    """An append-only feed: `id` is the revision every worker's poller reads past.

    Writers serialise on a table lock (see its repository), so revisions become visible in
    order and a poller that has read revision N never meets a smaller one later.
    """

    __tablename__ = "revocation_feed"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    kind: Mapped[RevocationKind] = mapped_column(str_enum(RevocationKind, name="revocation_kind"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    not_before: Mapped[int | None] = mapped_column(BigInteger())
    """Seconds since the epoch (kind `user`)."""
    kid: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
