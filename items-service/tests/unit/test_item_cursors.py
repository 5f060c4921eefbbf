"""List cursors are bound to their sort order: a cursor from one order is refused by the other.

These are the scopes `items.create_app` gives its two codecs; the API tests check the wiring.
"""

from datetime import UTC, datetime

import pytest

from service_kit.db import CursorCodec, KeysetPosition
from service_kit.errors import InvalidCursorError

SECRET = "unit-test-secret"
POSITION = KeysetPosition(datetime(2030, 1, 1, 12, 0, 0, 654321, tzinfo=UTC), 7)


@pytest.fixture
def newest_first() -> CursorCodec:
    return CursorCodec(SECRET, scope="items:-created_at")


@pytest.fixture
def oldest_first() -> CursorCodec:
    return CursorCodec(SECRET, scope="items:created_at")


def test_decode_rejects_cursor_when_it_came_from_the_oldest_first_codec(
    newest_first: CursorCodec, oldest_first: CursorCodec
) -> None:
    cursor = oldest_first.encode(POSITION)

    with pytest.raises(InvalidCursorError):
        newest_first.decode(cursor)


def test_decode_rejects_cursor_when_it_came_from_the_newest_first_codec(
    newest_first: CursorCodec, oldest_first: CursorCodec
) -> None:
    cursor = newest_first.encode(POSITION)

    with pytest.raises(InvalidCursorError):
        oldest_first.decode(cursor)


def test_decode_keeps_microseconds_when_cursor_comes_from_the_same_codec(
    newest_first: CursorCodec,
) -> None:
    cursor = newest_first.encode(POSITION)

    decoded = newest_first.decode(cursor)

    assert decoded == POSITION


def test_decode_rejects_cursor_when_it_was_made_with_another_secret(
    newest_first: CursorCodec,
) -> None:
    cursor = CursorCodec("another-secret", scope="items:-created_at").encode(POSITION)

    with pytest.raises(InvalidCursorError):
        newest_first.decode(cursor)
