"""Throttle rows: an attempt counted (one statement on PostgreSQL), deleted, pruned."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import (
    Integer,
    Row,
    Select,
    TextualSelect,
    bindparam,
    delete,
    select,
    text,
    true,
)

from identity.models import Throttle, ThrottleScope
from service_kit.db import BaseRepository, BoundQuery, BoundWrite
from service_kit.db.repository import affected_rows

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class AttemptRule:
    """The throttle's rule, as the statement that counts an attempt applies it."""

    max_failures: int
    window: timedelta
    lock: timedelta
    max_lock: timedelta

    def lock_for(self, lockouts: int) -> timedelta:
        """The lock after `lockouts` earlier ones: `lock` doubled each time, at most `max_lock`."""
        return min(self.lock * (1 << min(lockouts, 32)), self.max_lock)


@dataclass(frozen=True, slots=True)
class CountedAttempt:
    refused_until: datetime | None
    """The subject was locked: nothing was counted, and this is when the lock ends."""
    lock_started: timedelta | None
    """This attempt used up the last try: the lock it started."""


@functools.cache
def _count_statement() -> TextualSelect:
    """PostgreSQL: count an attempt in one statement, applying the rule that
    `_count_with_orm` spells out (SQLite runs that). The row is created, or updated under its
    row lock; a locked subject's row fails the `WHERE` of the update, is left as it was, and no
    row comes back: that is the refusal, decided on the row's latest version, so concurrent
    attempts cannot both get through at the lock."""
    expired = "(:now - t.window_started_at >= make_interval(secs => :window_seconds))"
    failures = f"((CASE WHEN {expired} THEN 0 ELSE t.failures END) + 1)"
    locks = f"({failures} >= :max_failures)"
    lock_seconds = "LEAST(:lock_seconds * power(2, LEAST(t.lockouts, 32)), :max_lock_seconds)"
    columns = Throttle.__table__.c
    return (
        text(
            # Fragments are this module's constants; every value is a bound parameter.
            "INSERT INTO throttles AS t (scope, key_hash, failures, window_started_at, "  # noqa: S608
            "lockouts, locked_until, updated_at) VALUES (:scope, :key_hash, "
            "CASE WHEN 1 >= :max_failures THEN 0 ELSE 1 END, :now, "
            "CASE WHEN 1 >= :max_failures THEN 1 ELSE 0 END, "
            "CASE WHEN 1 >= :max_failures THEN :now + make_interval(secs => :lock_seconds) END, "
            ":now) "
            "ON CONFLICT (scope, key_hash) DO UPDATE SET "
            f"failures = CASE WHEN {locks} THEN 0 ELSE {failures} END, "
            f"window_started_at = CASE WHEN {locks} OR {expired} THEN :now "
            "ELSE t.window_started_at END, "
            f"lockouts = CASE WHEN {locks} THEN t.lockouts + 1 ELSE t.lockouts END, "
            f"locked_until = CASE WHEN {locks} THEN :now + make_interval(secs => {lock_seconds}) "
            "ELSE t.locked_until END, "
            "updated_at = :now "
            "WHERE t.locked_until IS NULL OR t.locked_until <= :now "
            "RETURNING t.locked_until"
        )
        .bindparams(
            bindparam("scope", type_=columns.scope.type),
            bindparam("key_hash", type_=columns.key_hash.type),
            bindparam("now", type_=columns.updated_at.type),
            *(
                bindparam(name, type_=Integer())
                for name in ("max_failures", "window_seconds", "lock_seconds", "max_lock_seconds")
            ),
        )
        .columns(columns.locked_until)
    )


@functools.cache
def _count_only() -> Select[Any]:
    count = _count_statement().cte("counted")
    return select(count.c.locked_until).select_from(count)


@functools.lru_cache(maxsize=8)
def _count_loading(load: Select[Any]) -> Select[Any]:
    """The count as a CTE, with `load`'s entity outer-joined to its row; built once per query
    (queries are module constants, hashed by identity)."""
    count = _count_statement().cte("counted")
    entity = load.column_descriptions[0]["entity"]
    on = load.whereclause if load.whereclause is not None else true()
    return select(count.c.locked_until, entity).select_from(count).outerjoin(entity, on)


_REMOVE: Final = delete(Throttle).where(
    Throttle.scope == bindparam("forget_scope"),
    Throttle.key_hash == bindparam("forget_key_hash"),
)


class ThrottleRepository(BaseRepository[Throttle]):
    model = Throttle

    def count_attempt(
        self, scope: ThrottleScope, key_hash: str, *, now: datetime, rule: AttemptRule
    ) -> CountedAttempt:
        """Count an attempt of the subject unless it is locked (see `AttemptThrottle`)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return self._count_with_orm(scope, key_hash, now=now, rule=rule)
        row = self._execute_count(_count_only(), scope, key_hash, now, rule)
        return self._counted(row, scope, key_hash, now)

    def count_attempt_loading(
        self,
        scope: ThrottleScope,
        key_hash: str,
        *,
        now: datetime,
        rule: AttemptRule,
        load: BoundQuery[T],
    ) -> tuple[CountedAttempt, T | None]:
        """`count_attempt`, and `load` (a query of at most one row of one entity) run in the
        same round trip on PostgreSQL: the count is a CTE, and the entity is outer-joined to
        its row. What was loaded is None when the attempt was refused."""
        if self.session.get_bind().dialect.name != "postgresql":
            counted = self._count_with_orm(scope, key_hash, now=now, rule=rule)
            if counted.refused_until is not None:
                return counted, None
            return counted, self.session.scalars(load.statement, load.params).one_or_none()
        row = self._execute_count(
            _count_loading(load.statement), scope, key_hash, now, rule, load.params
        )
        return self._counted(row, scope, key_hash, now), row[1] if row else None

    def _execute_count(
        self,
        stmt: Select[Any],
        scope: ThrottleScope,
        key_hash: str,
        now: datetime,
        rule: AttemptRule,
        extra_params: Mapping[str, Any] | None = None,
    ) -> Row[Any] | None:
        params = {
            **(extra_params or {}),
            "scope": scope,
            "key_hash": key_hash,
            "now": now,
            "max_failures": rule.max_failures,
            "window_seconds": int(rule.window.total_seconds()),
            "lock_seconds": int(rule.lock.total_seconds()),
            "max_lock_seconds": int(rule.max_lock.total_seconds()),
        }
        return self.session.execute(stmt, params).one_or_none()

    def _counted(
        self, row: Row[Any] | None, scope: ThrottleScope, key_hash: str, now: datetime
    ) -> CountedAttempt:
        """The count statement's row (`locked_until` first) as an outcome: no row, the
        subject was locked."""
        if row is None:  # locked: when until (a read, on the refused path only)
            until = self.session.scalar(
                select(Throttle.locked_until).where(
                    Throttle.scope == scope, Throttle.key_hash == key_hash
                )
            )
            return CountedAttempt(refused_until=until or now, lock_started=None)
        locked_until: datetime | None = row[0]
        if locked_until is None or locked_until <= now:
            return CountedAttempt(refused_until=None, lock_started=None)
        return CountedAttempt(refused_until=None, lock_started=locked_until - now)

    def _count_with_orm(
        self, scope: ThrottleScope, key_hash: str, *, now: datetime, rule: AttemptRule
    ) -> CountedAttempt:
        row = self.claim(scope, key_hash, now=now)
        if row.locked_until is not None and row.locked_until > now:
            return CountedAttempt(refused_until=row.locked_until, lock_started=None)
        if now - row.window_started_at >= rule.window:
            row.window_started_at = now
            row.failures = 0
        row.failures += 1
        row.updated_at = now
        lock = None
        if row.failures >= rule.max_failures:
            lock = rule.lock_for(row.lockouts)
            row.locked_until = now + lock
            row.lockouts += 1
            row.failures = 0
            row.window_started_at = now
        self.flush()
        return CountedAttempt(refused_until=None, lock_started=lock)

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

    @staticmethod
    def removal(scope: ThrottleScope, key_hash: str) -> BoundWrite:
        """The DELETE of the subject's row, for the caller to send (Core: no session state to
        synchronise; every login that succeeds sends it)."""
        return BoundWrite(_REMOVE, {"forget_scope": scope, "forget_key_hash": key_hash})

    def execute_removal(self, removal: BoundWrite) -> None:
        self.session.connection().execute(removal.statement, dict(removal.params))

    def delete_idle(self, *, updated_before: datetime, now: datetime) -> int:
        """Delete rows untouched since `updated_before` whose lock (if any) is over; how many."""
        stmt = delete(Throttle).where(
            Throttle.updated_at < updated_before,
            (Throttle.locked_until.is_(None)) | (Throttle.locked_until <= now),
        )
        return affected_rows(self.session.execute(stmt))
