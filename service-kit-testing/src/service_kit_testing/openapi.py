"""Reading and checking a service's OpenAPI document in tests."""

# ruff: noqa: S101  (an assertion helper)

import re
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

OPERATION_ID = re.compile(r"[a-z][a-z0-9_]*")


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its local `$ref` (`#/components/...`) points at."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    """The operation's parameter of that name, resolved."""
    [found] = [
        resolved
        for resolved in (
            resolve(document, p) for p in document["paths"][path][method].get("parameters", [])
        )
        if resolved["name"] == name
    ]
    return found


def assert_client_ready(document: dict[str, Any]) -> None:
    """What a client generator needs from a service's document: valid OpenAPI 3.1; every
    operation with a short, unique `operationId`; every error body the shared `Problem` (or
    `ValidationProblem`) by reference; every schema with a description and an example."""
    validate(document)
    assert document["openapi"].startswith("3.1")
    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)), ids
    assert all(OPERATION_ID.fullmatch(operation_id) for operation_id in ids), ids
    for op in operations:
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            wanted = "ValidationProblem" if status == "422" else "Problem"
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{wanted}"}, (op["operationId"], status)
    missing = {
        name: keys
        for name, schema in document["components"]["schemas"].items()
        if (keys := [key for key in ("description", "examples") if not schema.get(key)])
    }
    assert not missing, f"schemas without a description or an example: {missing}"
    for name, schema in document["components"]["schemas"].items():
        # The whole document as the root, so the schema's `#/components/...` references resolve.
        validator = Draft202012Validator({**document, "$ref": f"#/components/schemas/{name}"})
        for example in schema["examples"]:
            errors = [error.message for error in validator.iter_errors(example)]
            assert not errors, f"{name}'s example breaks its schema: {errors}"
