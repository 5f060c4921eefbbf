"""Keyset cursors: opaque to clients (encrypted) and tamper-evident (authenticated)."""

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from cryptography.fernet import Fernet, InvalidToken

from service_kit.errors import InvalidCursorError


@dataclass(frozen=True, slots=True)
class KeysetPosition:
    """The last row a page ended on: its sort timestamp and its integer key as the tie-break."""

    created_at: datetime
    id: int


class CursorCodec:
    """Encode and decode keyset positions. A cursor from another secret or scope is rejected."""

    def __init__(self, secret: str, *, scope: str) -> None:
        # Derive a dedicated key so the cursor key is never the raw application secret.
        digest = hashlib.sha256(f"cursor:{scope}:{secret}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._scope = scope

    def encode(self, position: KeysetPosition) -> str:
        payload = json.dumps(
            [self._scope, position.created_at.isoformat(), position.id], separators=(",", ":")
        )
        return self._fernet.encrypt(payload.encode()).decode("ascii")

    def decode(self, cursor: str) -> KeysetPosition:
        """Raises:
        InvalidCursorError: the cursor is malformed, modified or from another scope.
        """
        try:
            scope, created_at, pk = json.loads(self._fernet.decrypt(cursor.encode("ascii")))
            position = KeysetPosition(datetime.fromisoformat(created_at), int(pk))
        except (InvalidToken, ValueError, TypeError, UnicodeError) as exc:
            raise InvalidCursorError() from exc
        if scope != self._scope or position.created_at.tzinfo is None:
            raise InvalidCursorError()
        return position


RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """One page of rows and where the next page starts (None on the last page)."""

    items: Sequence[RowT]
    next_position: KeysetPosition | None


def page_from_rows(
    rows: Sequence[RowT], *, limit: int, position: Callable[[RowT], KeysetPosition]
) -> Page[RowT]:
    """Rows fetched with `limit + 1`: the extra row only tells that another page exists."""
    items = rows[:limit]
    next_position = position(items[-1]) if len(rows) > limit and items else None
    return Page(items=items, next_position=next_position)
