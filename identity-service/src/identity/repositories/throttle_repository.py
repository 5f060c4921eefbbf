"""Throttle rows: read, created and locked for an update, deleted."""

from datetime import datetime

from sqlalchemy import delete, select

from identity.models import Throttle, ThrottleScope
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows, insert_skipping_conflicts

_CREATE = insert_skipping_conflicts(
    Throttle,
    ("scope", "key_hash", "failures", "window_started_at", "lockouts", "updated_at"),
    conflict=("scope", "key_hash"),
    returning="id",
)


class ThrottleRepository(BaseRepository[Throttle]):
    model = Throttle

    def find(self, scope: ThrottleScope, key_hash: str) -> Throttle | None:
        stmt = select(Throttle).where(Throttle.scope == scope, Throttle.key_hash == key_hash)
        return self.session.scalars(stmt).one_or_none()

    def find_or_create_for_update(
        self, scope: ThrottleScope, key_hash: str, *, now: datetime
    ) -> Throttle:
        """The row, created first if missing (concurrent creators agree on one), locked until
        the transaction ends: concurrent failures of one subject count one after the other."""
        self.session.execute(
            _CREATE,
            {
                "scope": scope,
                "key_hash": key_hash,
                "failures": 0,
                "window_started_at": now,
                "lockouts": 0,
                "updated_at": now,
            },
        )
        stmt = (
            select(Throttle)
            .where(Throttle.scope == scope, Throttle.key_hash == key_hash)
            .with_for_update()
        )
        return self.session.scalars(stmt).one()

    def remove(self, scope: ThrottleScope, key_hash: str) -> None:
        self.session.execute(
            delete(Throttle).where(Throttle.scope == scope, Throttle.key_hash == key_hash)
        )

    def delete_idle(self, *, updated_before: datetime, now: datetime) -> int:
        """Delete rows untouched since `updated_before` whose lock (if any) is over; how many."""
        stmt = delete(Throttle).where(
            Throttle.updated_at < updated_before,
            (Throttle.locked_until.is_(None)) | (Throttle.locked_until <= now),
        )
        return affected_rows(self.session.execute(stmt))
