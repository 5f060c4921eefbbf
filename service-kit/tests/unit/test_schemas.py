"""Edge types whose documented schema must say exactly what the services accept."""

import pytest
from pydantic import TypeAdapter, ValidationError

from service_kit.schemas import Cursor, EntityTagList

ENTITY_TAG_LIST = TypeAdapter(EntityTagList)
CURSOR = TypeAdapter(Cursor)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("*", id="star"),
        pytest.param('"1"', id="strong"),
        pytest.param('W/"1"', id="weak"),
        pytest.param('""', id="empty-tag"),
        pytest.param('"1", W/"2","3"', id="list"),
        pytest.param('"1",\t"2"', id="tab-separated"),
        pytest.param('"1",,"2"', id="empty-element"),
        pytest.param(', "1",', id="leading-and-trailing-commas"),
        pytest.param("", id="empty-list"),
        pytest.param('"!#~"', id="visible-ascii-but-quote"),
        pytest.param('"\xb2"', id="obs-text"),
    ],
)
def test_entity_tag_list_accepts_value_when_it_has_rfc_9110_syntax(value: str) -> None:
    assert ENTITY_TAG_LIST.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("garbage", id="unquoted-word"),
        pytest.param("1", id="unquoted-version"),
        pytest.param('"1', id="unterminated"),
        pytest.param('"a b"', id="space-inside"),
        pytest.param('"a"b"', id="quote-inside"),
        pytest.param('w/"1"', id="lowercase-weak"),
        pytest.param('"1" "2"', id="no-comma"),
        pytest.param('*, "1"', id="star-in-list"),
        pytest.param("null", id="json-null-as-text"),
        pytest.param("**", id="two-stars"),
    ],
)
def test_entity_tag_list_rejects_value_when_it_lacks_rfc_9110_syntax(value: str) -> None:
    with pytest.raises(ValidationError):
        ENTITY_TAG_LIST.validate_python(value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("A" * 58, id="one-short"),
        pytest.param("A" * 60, id="one-long"),
        pytest.param("A" * 58 + "B", id="last-character-with-unused-bits-set"),
        pytest.param("A" * 57 + "+A", id="standard-base64-alphabet"),
        pytest.param("A" * 57 + "A=", id="padded"),
    ],
)
def test_cursor_rejects_value_when_it_is_not_an_unpadded_base64url_cursor(value: str) -> None:
    with pytest.raises(ValidationError):
        CURSOR.validate_python(value)
