"""Typed repository base over a session it is handed: flushes, never commits."""

from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service_kit.db.mixins import IntegerPkMixin
from service_kit.errors import UniqueViolationError

ModelT = TypeVar("ModelT", bound=IntegerPkMixin)

_UNIQUE_SQLSTATE = "23505"


def escape_like(text: str, escape: str = "\\") -> str:
    """Make `%`, `_` and the escape character literal inside a LIKE pattern."""
    return text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def unique_violation_from(error: IntegrityError) -> UniqueViolationError | None:
    """The unique violation behind an IntegrityError, or None if it was another constraint."""
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == _UNIQUE_SQLSTATE:
        diag = getattr(orig, "diag", None)
        return UniqueViolationError(getattr(diag, "constraint_name", None))
    if sqlstate is None and "UNIQUE constraint failed" in str(orig):
        return UniqueViolationError(None)
    return None


def affected_rows(result: Result[Any]) -> int:
    """Rows matched by a bulk UPDATE or DELETE."""
    return cast(CursorResult[Any], result).rowcount


class BaseRepository(Generic[ModelT]):
    """`add`, `get`, `delete` and `flush` for one model; subclasses add named queries."""

    model: type[ModelT]

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, pk: int) -> ModelT | None:
        return self.session.get(self.model, pk)

    def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        self.flush()
        return obj

    def delete(self, obj: ModelT) -> None:
        self.session.delete(obj)
        self.flush()

    def flush(self) -> None:
        """Send pending changes now: primary keys, defaults and constraint errors come early.

        Raises:
            UniqueViolationError: a unique constraint rejected the write.
        """
        try:
            self.session.flush()
        except IntegrityError as exc:
            violation = unique_violation_from(exc)
            if violation is None:
                raise
            raise violation from exc
