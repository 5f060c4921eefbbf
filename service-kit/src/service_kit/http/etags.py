"""Strong ETags from version counters, and RFC 9110 If-Match / If-None-Match parsing."""

import re
from typing import Final

_ENTITY_TAG: Final = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
# Exactly what `version_etag` writes: ASCII digits, no leading zero, bounded. `str.isdigit()`
# would also accept "²" (which `int()` then rejects) and "01" (not the same opaque tag as "1").
_VERSION: Final = re.compile(r"[1-9][0-9]{0,17}")


def version_etag(version: int) -> str:
    """A strong ETag for a version counter: `"<version>"`."""
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    return [(bool(weak), value) for weak, value in _ENTITY_TAG.findall(header)]


def if_match_versions(header: str | None) -> frozenset[int] | None:
    """Versions an If-Match header allows: None means no condition (absent or `*`).

    Weak tags never match (If-Match uses strong comparison), so a header with only weak or
    foreign tags yields an empty set, which no version satisfies.
    """
    if header is None or header.strip() == "*":
        return None
    return frozenset(
        int(value) for weak, value in _tags(header) if not weak and _VERSION.fullmatch(value)
    )


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison) or is `*`."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    current = etag.strip('"')
    return any(value == current for _weak, value in _tags(header))
