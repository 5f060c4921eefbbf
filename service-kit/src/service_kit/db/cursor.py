"""Keyset cursors: opaque to clients (encrypted) and tamper-evident (authenticated)."""

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service_kit.errors import InvalidCursorError


@dataclass(frozen=True, slots=True)
class KeysetPosition:
    """The last row a page ended on: its sort timestamp and its integer key as the tie-break."""

    created_at: datetime
    id: int


class CursorCodec:
    """Encode and decode keyset positions with AES-GCM: clients cannot read a cursor (it holds
    an internal key) and cannot forge or modify one; the scope (for example the sort order) is
    authenticated too, so a cursor of one listing is rejected by another."""

    _PAYLOAD: ClassVar[struct.Struct] = struct.Struct(">qq")  # UTC microseconds, id
    _NONCE_BYTES: ClassVar[int] = 12

    def __init__(self, secret: str, *, scope: str) -> None:
        # A dedicated key, derived so the cursor key is never the raw application secret.
        self._aead = AESGCM(hashlib.sha256(f"cursor:{secret}".encode()).digest())
        self._scope = scope.encode()

    def encode(self, position: KeysetPosition) -> str:
        micros = _to_micros(position.created_at)
        nonce = os.urandom(self._NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, self._PAYLOAD.pack(micros, position.id), self._scope)
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> KeysetPosition:
        """Raises:
        InvalidCursorError: the cursor is malformed, modified or from another scope.
        """
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            nonce, sealed = raw[: self._NONCE_BYTES], raw[self._NONCE_BYTES :]
            micros, pk = self._PAYLOAD.unpack(self._aead.decrypt(nonce, sealed, self._scope))
        except (InvalidTag, ValueError, struct.error, binascii.Error) as exc:
            raise InvalidCursorError() from exc
        return KeysetPosition(_EPOCH + timedelta(microseconds=micros), pk)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


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
