"""The committed documents and generated clients are what the code produces (no drift), and
each client has a model class per schema, not one per operation and status."""

import json
import sys
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CLIENTS))

import generate  # noqa: E402 - clients/generate.py, beside this directory


def files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix in {".py", ".json", ".typed"}
    }


@pytest.mark.parametrize("service", generate.SERVICES)
def test_the_committed_document_and_client_are_what_the_code_produces(
    service: str, tmp_path: Path
) -> None:
    produced = generate.write(service, tmp_path)
    committed = CLIENTS / f"{service}-client"

    expected = files(produced)
    actual = {name: text for name, text in files(committed).items() if name != "pyproject.toml"}
    assert expected.keys() == actual.keys(), "run `make clients`"
    drifted = sorted(name for name in expected if expected[name] != actual[name])
    assert not drifted, f"run `make clients`: {drifted}"


@pytest.mark.parametrize("service", generate.SERVICES)
def test_a_client_has_a_model_per_schema_not_per_response(service: str) -> None:
    project = CLIENTS / f"{service}-client"
    schemas = json.loads((project / "openapi.json").read_text())["components"]["schemas"]
    models = [
        p for p in (project / f"{service}_client" / "models").glob("*.py") if p.stem != "__init__"
    ]

    # Each component schema, plus the few nested shapes a schema names inline (a
    # ValidationProblem's error item, an audit event's free-form detail, the list's sort enum).
    assert len(schemas) <= len(models) <= len(schemas) + 3
    assert not [p.stem for p in models if p.stem.endswith(("_response_400", "_response_422"))]


def _shape(schema: dict[str, object]) -> str:
    """What a client sees of a schema: its fields, their types and which are required (not its
    name, description or example). Field names are kept, whatever they are called (a field may
    be named `title` or `description`)."""
    ignored = {"title", "description", "example", "examples"}

    def strip(value: object, *, fields: bool = False) -> object:
        if isinstance(value, dict):
            if fields:  # a `properties` object: its keys are field names
                return {name: strip(field) for name, field in value.items()}
            return {
                key: strip(item, fields=key == "properties")
                for key, item in value.items()
                if key not in ignored
            }
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return json.dumps(strip(schema), sort_keys=True)


@pytest.mark.parametrize("service", generate.SERVICES)
def test_no_two_schemas_have_the_same_shape(service: str) -> None:
    """A shape used by several operations is one schema (one model class in the client)."""
    schemas = json.loads((CLIENTS / f"{service}-client" / "openapi.json").read_text())[
        "components"
    ]["schemas"]
    by_shape: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        by_shape.setdefault(_shape(schema), []).append(name)

    assert [names for names in by_shape.values() if len(names) > 1] == []
