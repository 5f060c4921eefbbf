"""Database infrastructure: engine and per-request session, mixins, repository, transactions."""

from service_kit.db.cursor import CursorCodec, KeysetPosition, Page, page_from_rows
from service_kit.db.mixins import (
    NAMING_CONVENTION,
    IntegerPkMixin,
    PublicIdMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UTCDateTime,
    postgresql_only,
    str_enum,
)
from service_kit.db.repository import (
    BaseRepository,
    BoundQuery,
    BoundWrite,
    CreationOrder,
    escape_like,
    execute_alongside,
    keyset_after,
    keyset_order,
    keyset_params,
)
from service_kit.db.session import Database
from service_kit.db.transaction import idempotent_statement, transaction

__all__ = [
    "NAMING_CONVENTION",
    "BaseRepository",
    "BoundQuery",
    "BoundWrite",
    "CreationOrder",
    "CursorCodec",
    "Database",
    "IntegerPkMixin",
    "KeysetPosition",
    "Page",
    "PublicIdMixin",
    "SoftDeleteMixin",
    "TimestampMixin",
    "UTCDateTime",
    "escape_like",
    "execute_alongside",
    "idempotent_statement",
    "keyset_after",
    "keyset_order",
    "keyset_params",
    "page_from_rows",
    "postgresql_only",
    "str_enum",
    "transaction",
]
