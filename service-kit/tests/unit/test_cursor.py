"""Keyset cursors: opaque, tamper-evident, bound to one scope and secret; and page slicing."""

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from service_kit.db import CursorCodec, KeysetPosition, page_from_rows
from service_kit.errors import InvalidCursorError
from service_kit.schemas import Cursor

SECRET = "unit-test-secret"
POSITION = KeysetPosition(datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC), 987654321)


def _flip_middle_character(cursor: str) -> str:
    middle = len(cursor) // 2
    replacement = "A" if cursor[middle] != "A" else "B"
    return cursor[:middle] + replacement + cursor[middle + 1 :]


def test_decode_returns_the_encoded_position_when_cursor_is_untouched() -> None:
    codec = CursorCodec(SECRET, scope="users")

    decoded = codec.decode(codec.encode(POSITION))

    assert decoded == POSITION


def test_encode_hides_the_position_when_cursor_is_given_to_clients() -> None:
    codec = CursorCodec(SECRET, scope="users")

    cursor = codec.encode(POSITION)

    readable = cursor.encode() + base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"2030-01-01" not in readable
    assert b"987654321" not in readable


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAST_MICROSECOND = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@given(
    created_at=st.integers(0, (LAST_MICROSECOND - EPOCH) // timedelta(microseconds=1)).map(
        lambda micros: EPOCH + timedelta(microseconds=micros)
    ),
    row_id=st.integers(min_value=1, max_value=2**63 - 1),
    scope=st.sampled_from(["users", "items:newest-first", "items:oldest-first"]),
)
def test_encode_issues_a_cursor_of_the_documented_form_when_given_any_position(
    created_at: datetime, row_id: int, scope: str
) -> None:
    cursor = CursorCodec(SECRET, scope=scope).encode(KeysetPosition(created_at, row_id))

    assert TypeAdapter(Cursor).validate_python(cursor) == cursor


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_flip_middle_character, id="modified"),
        pytest.param(lambda cursor: cursor[:-5], id="truncated"),
        pytest.param(lambda cursor: "A" + cursor, id="prepended"),
        pytest.param(lambda cursor: cursor[::-1], id="reversed"),
    ],
)
def test_decode_raises_invalid_cursor_when_cursor_was_tampered_with(
    tamper: Callable[[str], str],
) -> None:
    codec = CursorCodec(SECRET, scope="users")
    tampered = tamper(codec.encode(POSITION))

    with pytest.raises(InvalidCursorError):
        codec.decode(tampered)


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-cursor", "%%%%", "gAAAAA", "é-not-ascii", "eyJhbGciOiJub25lIn0"],
)
def test_decode_raises_invalid_cursor_when_cursor_is_garbage(garbage: str) -> None:
    codec = CursorCodec(SECRET, scope="users")

    with pytest.raises(InvalidCursorError):
        codec.decode(garbage)


def test_decode_raises_invalid_cursor_when_cursor_comes_from_another_scope() -> None:
    cursor = CursorCodec(SECRET, scope="items").encode(POSITION)

    with pytest.raises(InvalidCursorError):
        CursorCodec(SECRET, scope="users").decode(cursor)


def test_decode_raises_invalid_cursor_when_cursor_was_made_with_another_secret() -> None:
    cursor = CursorCodec("another-secret", scope="users").encode(POSITION)

    with pytest.raises(InvalidCursorError):
        CursorCodec(SECRET, scope="users").decode(cursor)


class Row(NamedTuple):
    created_at: datetime
    id: int


def _rows(count: int) -> list[Row]:
    return [
        Row(datetime(2030, 1, 1, 12, minute, tzinfo=UTC), minute + 1) for minute in range(count)
    ]


def _position(row: Row) -> KeysetPosition:
    return KeysetPosition(row.created_at, row.id)


def test_page_from_rows_drops_the_lookahead_row_when_more_rows_than_limit() -> None:
    rows = _rows(4)

    page = page_from_rows(rows, limit=3, position=_position)

    assert list(page.items) == rows[:3]


def test_page_from_rows_points_next_position_at_last_item_when_more_rows_than_limit() -> None:
    rows = _rows(4)

    page = page_from_rows(rows, limit=3, position=_position)

    assert page.next_position == KeysetPosition(rows[2].created_at, rows[2].id)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_page_from_rows_keeps_every_row_when_rows_fit_the_limit(count: int) -> None:
    rows = _rows(count)

    page = page_from_rows(rows, limit=3, position=_position)

    assert list(page.items) == rows


@pytest.mark.parametrize("count", [0, 1, 3])
def test_page_from_rows_has_no_next_position_when_rows_fit_the_limit(count: int) -> None:
    rows = _rows(count)

    page = page_from_rows(rows, limit=3, position=_position)

    assert page.next_position is None
