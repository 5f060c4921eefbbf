"""ETag helpers: strong version tags, If-Match (strong comparison) and If-None-Match (weak)."""

import pytest

from service_kit.http.etags import if_match_versions, if_none_match_hits, version_etag


@pytest.mark.parametrize(("version", "etag"), [(1, '"1"'), (42, '"42"'), (1000000, '"1000000"')])
def test_version_etag_is_a_quoted_strong_tag_when_given_a_version(version: int, etag: str) -> None:
    tag = version_etag(version)

    assert tag == etag


def test_version_etag_is_never_weak_when_given_a_version() -> None:
    tag = version_etag(7)

    assert not tag.startswith("W/")


@pytest.mark.parametrize("header", [None, "*", " * "])
def test_if_match_versions_returns_none_when_header_sets_no_condition(header: str | None) -> None:
    versions = if_match_versions(header)

    assert versions is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param('"1"', {1}, id="one-tag"),
        pytest.param('"1", "2"', {1, 2}, id="list"),
        pytest.param('"1","2" , "30"', {1, 2, 30}, id="list-odd-spacing"),
        pytest.param(' "5" ', {5}, id="surrounding-space"),
        pytest.param('"3", W/"4"', {3}, id="strong-and-weak"),
    ],
)
def test_if_match_versions_returns_strong_versions_when_header_lists_tags(
    header: str, expected: set[int]
) -> None:
    versions = if_match_versions(header)

    assert versions == frozenset(expected)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('W/"1"', id="weak"),
        pytest.param('W/"1", W/"2"', id="weak-list"),
        pytest.param("", id="empty"),
        pytest.param("1", id="unquoted"),
        pytest.param("garbage", id="garbage"),
        pytest.param('"abc"', id="foreign-tag"),
        pytest.param('""', id="empty-tag"),
        pytest.param('"-1"', id="negative"),
        pytest.param('"1.0"', id="decimal"),
        pytest.param('"1"garbage', id="trailing-garbage"),
        pytest.param('"1', id="unterminated"),
        pytest.param('"\xb2"', id="latin1-superscript-two"),
        pytest.param('"\xb9"', id="latin1-superscript-one"),
        pytest.param('"' + "9" * 5000 + '"', id="huge-number"),
    ],
)
def test_if_match_versions_returns_empty_set_when_header_has_no_usable_strong_tag(
    header: str,
) -> None:
    versions = if_match_versions(header)

    assert versions == frozenset()


@pytest.mark.parametrize("header", ['"01"', '"001"', '"+1"', '" 1"'])
def test_if_match_versions_does_not_match_version_one_when_tag_only_looks_numerically_equal(
    header: str,
) -> None:
    versions = if_match_versions(header)

    assert 1 not in (versions or frozenset())


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('"3"', id="exact"),
        pytest.param('W/"3"', id="weak-compares-equal"),
        pytest.param('"1", "3"', id="in-list"),
        pytest.param("*", id="star"),
        pytest.param(" * ", id="star-spaced"),
    ],
)
def test_if_none_match_hits_returns_true_when_header_names_current_etag(header: str) -> None:
    hits = if_none_match_hits(header, version_etag(3))

    assert hits is True


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="absent"),
        pytest.param('"2"', id="stale"),
        pytest.param('"1", W/"2"', id="stale-list"),
        pytest.param('"03"', id="leading-zero"),
        pytest.param("3", id="unquoted"),
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_if_none_match_hits_returns_false_when_header_does_not_name_current_etag(
    header: str | None,
) -> None:
    hits = if_none_match_hits(header, version_etag(3))

    assert hits is False
