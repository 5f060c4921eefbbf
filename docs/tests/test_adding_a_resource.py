"""docs/adding-a-resource.md shows real code: each block marked `<!-- snippet: PATH -->` is an
excerpt of that file, line for line, so the guide cannot drift from what it describes."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "adding-a-resource.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<path>\S+) -->\n```[a-z]*\n(?P<code>.*?)\n```", re.DOTALL)


def snippets(markdown: str) -> list[tuple[str, str]]:
    return [(match["path"], match["code"]) for match in SNIPPET.finditer(markdown)]


def is_excerpt(code: str, text: str) -> bool:
    """Whole lines of `text`, consecutive and unchanged."""
    return f"\n{code}\n" in f"\n{text}\n"


GUIDE_SNIPPETS = snippets(GUIDE.read_text())


def test_guide_has_a_snippet_for_every_layer() -> None:
    paths = {path for path, _ in GUIDE_SNIPPETS}

    assert {
        "items-service/src/items/models/tag.py",
        "items-service/src/items/repositories/tag_repository.py",
        "items-service/src/items/services/tag_service.py",
        "items-service/src/items/wiring.py",
        "items-service/src/items/schemas/tag_schemas.py",
        "items-service/src/items/controllers/tag_controller.py",
        "gateway/templates/gateway.conf.template",
        "items-service/tests/integration/test_tags_api.py",
    } <= paths
    assert any(path.startswith("items-service/migrations/versions/") for path in paths)


@pytest.mark.parametrize(("path", "code"), GUIDE_SNIPPETS, ids=[p for p, _ in GUIDE_SNIPPETS])
def test_snippet_is_an_unchanged_excerpt_of_its_file(path: str, code: str) -> None:
    source = ROOT / path

    assert source.is_file(), f"{path} does not exist"
    assert is_excerpt(code, source.read_text()), f"the guide's block differs from {path}"


def test_excerpt_check_refuses_a_changed_line_and_a_partial_line() -> None:
    text = "def f():\n    return 1\n"

    assert is_excerpt("    return 1", text)
    assert not is_excerpt("    return 2", text)
    assert not is_excerpt("return 1", text)
