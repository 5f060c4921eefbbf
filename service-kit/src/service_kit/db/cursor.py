"""Keyset cursors: opaque to clients (encrypted) and tamper-evident (authenticated)."""

import base64
import binascii
import hashlib
import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service_kit.errors import InvalidCursorError


@dataclass(frozen=True, slots=True)
class KeysetPosition:
    """The last row a page ended on: its sort timestamp and its integer key as the tie-break."""

    created_at: datetime
    id: int


_PAYLOAD: Final = struct.Struct(">qq")  # UTC microseconds, id
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16  # AES-GCM's authentication tag
_SEALED_BYTES: Final = _NONCE_BYTES + _PAYLOAD.size + _TAG_BYTES
_BASE64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _unpadded_base64url_pattern(size: int) -> str:
    """The regular expression of exactly the unpadded base64url encodings of `size` bytes.

    When `size` is not a multiple of 3, the last character carries 2 or 4 unused low bits that
    the encoder sets to zero, so only every 4th or 16th character of the alphabet can end it."""
    full_groups, rest = divmod(size, 3)
    pattern = f"[A-Za-z0-9_-]{{{full_groups * 4 + rest}}}"
    if rest:
        step = 16 if rest == 1 else 4
        pattern += f"[{re.escape(_BASE64URL[::step])}]"
    return f"^{pattern}$"


CURSOR_PATTERN: Final = _unpadded_base64url_pattern(_SEALED_BYTES)
"""Every cursor `CursorCodec.encode` issues matches this, so an API can document and validate the
exact form of its cursors. Which of them a service issued, no pattern can say: a well-formed
cursor that it did not issue still raises `InvalidCursorError`."""


class CursorCodec:
    """Encode and decode keyset positions with AES-GCM: clients cannot read a cursor (it holds
    an internal key) and cannot forge or modify one; the scope (for example the sort order) is
    authenticated too, so a cursor of one listing is rejected by another."""

    def __init__(self, secret: str, *, scope: str) -> None:
        # A dedicated key, derived so the cursor key is never the raw application secret.
        self._aead = AESGCM(hashlib.sha256(f"cursor:{secret}".encode()).digest())
        self._scope = scope.encode()

    def encode(self, position: KeysetPosition) -> str:
        micros = _to_micros(position.created_at)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, _PAYLOAD.pack(micros, position.id), self._scope)
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> KeysetPosition:
        """Raises:
        InvalidCursorError: the cursor is malformed, modified or from another scope.
        """
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            micros, pk = _PAYLOAD.unpack(self._aead.decrypt(nonce, sealed, self._scope))
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
