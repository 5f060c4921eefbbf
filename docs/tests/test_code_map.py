"""README.md's code map names every Python module of the four packages, and only those."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "service-kit/src/service_kit",
    "service-kit-testing/src/service_kit_testing",
    "identity-service/src/identity",
    "items-service/src/items",
)
MAP_SECTION = "## How the code is organised"


def code_map() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(MAP_SECTION) :]
    block = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the code map is the first ```text block of its section"
    return block.group(1)


def mapped_modules(text: str) -> set[str]:
    """`package/` lines start at column 0, `subpackage/` lines are indented under them; a line
    without a leading path continues the last one. Words in parentheses are comments."""
    modules: set[str] = set()
    package = directory = ""
    for line in text.splitlines():
        words = re.sub(r"\([^)]*\)", " ", line).split()
        if not words:
            continue
        if words[0].endswith("/"):
            if line.startswith(" "):
                directory = f"{package}/{words[0].rstrip('/')}"
            else:
                package = directory = words[0].rstrip("/")
            words = words[1:]
        modules.update(f"{directory}/{word}" for word in words)
    return modules


def existing_modules() -> set[str]:
    return {
        str(path.relative_to(ROOT).with_suffix(""))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }


def test_code_map_names_every_module_that_exists_and_no_other() -> None:
    mapped = mapped_modules(code_map())

    assert sorted(existing_modules() - mapped) == []  # exists, not in the map
    assert sorted(mapped - existing_modules()) == []  # in the map, does not exist


def test_code_map_parser_reads_packages_subpackages_and_continuation_lines() -> None:
    text = "a/b/   one (a comment) two\n  sub/   three\n         four\n"

    assert mapped_modules(text) == {"a/b/one", "a/b/two", "a/b/sub/three", "a/b/sub/four"}
