"""Column mixins shared by every model: integer key, public UUID, timestamps, soft delete."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import DateTime, Dialect, Enum, Index, func
from sqlalchemy.orm import Mapped, declarative_mixin, mapped_column
from sqlalchemy.types import TypeDecorator, Uuid

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Stable constraint names, so migrations and `UniqueViolationError.constraint` agree."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum: type[StrEnum], *, name: str, length: int = 16) -> Enum:
    """A column type storing a StrEnum's values as VARCHAR with a CHECK constraint: portable
    across PostgreSQL and SQLite, and a new member is a migration of the constraint only."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


ONLY_ON_DIALECT: Final = "only_on_dialect"
"""Key in a schema item's `info` naming the one dialect it exists on (see `postgresql_only`)."""


def postgresql_only(index: Index) -> Index:
    """`index` exists on PostgreSQL only (a GIN trigram index, say): `create_all` skips it
    elsewhere, and migration autogenerate (`service_kit.http.migrations`) does not expect it
    on other databases."""
    index.info[ONLY_ON_DIALECT] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def utcnow() -> datetime:
    """Column default; services that need a controllable time set the column from their clock."""
    return datetime.now(UTC)


@declarative_mixin
class IntegerPkMixin:
    """Internal integer primary key: fast joins, never shown outside the service."""

    id: Mapped[int] = mapped_column(primary_key=True)


@declarative_mixin
class PublicIdMixin:
    """The UUID that URLs, tokens and bodies use instead of the integer key."""

    public_id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), unique=True, default=uuid.uuid4, nullable=False
    )


@declarative_mixin
class TimestampMixin:
    """Creation and update times, UTC with microseconds."""

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now(), nullable=False
    )


@declarative_mixin
class SoftDeleteMixin:
    """Rows are marked deleted instead of removed, so users can undo."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self, *, at: datetime) -> None:
        self.deleted_at = at

    def restore(self) -> None:
        self.deleted_at = None
