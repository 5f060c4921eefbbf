"""Throttle rows: claimed (created if missing, locked), deleted, pruned."""

import functools
from datetime import datetime

from sqlalchemy import TextualSelect, bindparam, delete, select, text

from identity.models import Throttle, ThrottleScope
from service_kit.db import BaseRepository
from service_kit.db.repository import affected_rows


@functools.cache
def _claim_statement() -> TextualSelect:
    """Create the row or, if it exists, lock it, in one statement: the row is ours until the
    transaction ends (nobody can delete it between a create and a read). The no-op update is
    what takes the lock on PostgreSQL; values bind with the columns' own types."""
    columns = Throttle.__table__.c
    names = ("scope", "key_hash", "now")
    types = {"scope": columns.scope.type, "key_hash": columns.key_hash.type}
    typed = [bindparam(name, type_=types.get(name, columns.updated_at.type)) for name in names]
    return (
        text(
            "INSERT INTO throttles (scope, key_hash, failures, window_started_at, lockouts, "
            "updated_at) VALUES (:scope, :key_hash, 0, :now, 0, :now) "
            "ON CONFLICT (scope, key_hash) DO UPDATE SET updated_at = throttles.updated_at "
            "RETURNING id"
        )
        .bindparams(*typed)
        .columns(columns.id)
    )


class ThrottleRepository(BaseRepository[Throttle]):
    model = Throttle

    def claim(self, scope: ThrottleScope, key_hash: str, *, now: datetime) -> Throttle:
        """The row, created first if missing, locked until the transaction ends: concurrent
        attempts of one subject are counted one after the other."""
        row_id = self.session.execute(
            _claim_statement(), {"scope": scope, "key_hash": key_hash, "now": now}
        ).scalar_one()
        stmt = (
            select(Throttle).where(Throttle.id == row_id).execution_options(populate_existing=True)
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
