"""LIKE-pattern escaping: user text is matched literally, never as wildcards."""

import pytest

from service_kit.db import escape_like


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("plain text", "plain text", id="no-specials"),
        pytest.param("100%", "100\\%", id="percent"),
        pytest.param("snake_case", "snake\\_case", id="underscore"),
        pytest.param("back\\slash", "back\\\\slash", id="escape-character"),
        pytest.param("\\%", "\\\\\\%", id="escape-then-percent"),
        pytest.param("%_%", "\\%\\_\\%", id="only-wildcards"),
        pytest.param("", "", id="empty"),
    ],
)
def test_escape_like_makes_wildcards_literal_when_text_contains_them(
    text: str, expected: str
) -> None:
    escaped = escape_like(text)

    assert escaped == expected


def test_escape_like_uses_the_given_escape_character_when_one_is_passed() -> None:
    escaped = escape_like("50%_off!", escape="!")

    assert escaped == "50!%!_off!!"
