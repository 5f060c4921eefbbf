"""The OpenAPI document a service serves: one Problem shape by reference, shared headers and
parameters as components, operations named after their view functions."""

from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from service_kit.http.openapi import (
    PROBLEM_CODES_EXTENSION,
    ApiBlueprint,
    ViewResult,
    problem_responses,
    response_headers,
)
from tests.apps import service_app

PROBLEM = {"$ref": "#/components/schemas/Problem"}


class WidgetPath(BaseModel):
    widget_id: int = Field(description="The widget's id")


class WidgetQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="Page size")


class WidgetOut(BaseModel):
    """A widget."""

    name: str


def make_app(*, blueprint: ApiBlueprint | None = None) -> Flask:
    app = service_app()
    widgets = blueprint or ApiBlueprint("widgets", __name__, url_prefix="/api/v1/widgets")

    @widgets.get("", responses={200: WidgetOut})
    def list_widgets(query: WidgetQuery) -> ViewResult:
        return {"name": "a"}

    @widgets.get(
        "/<int:widget_id>",
        responses={200: WidgetOut, **problem_responses(404, codes={404: ("not_found",)})},
        openapi_extensions=response_headers({200: ("ETag",)}),
    )
    def get_widget(path: WidgetPath, query: WidgetQuery) -> ViewResult:
        return {"name": "a"}

    @widgets.delete("/<int:widget_id>", responses={204: None, **problem_responses(404, 503)})
    def delete_widget(path: WidgetPath) -> ViewResult:
        return "", 204

    app.register_api(widgets)  # type: ignore[attr-defined]
    return app


def document(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/openapi.json").get_json()  # type: ignore[no-any-return]


def operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method]  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document(make_app())

    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_operations_are_named_after_their_view_functions() -> None:
    spec = document(make_app())

    ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert ids == {"list_widgets", "get_widget", "delete_widget"}


def test_two_views_of_one_name_are_refused_when_the_document_is_built() -> None:
    other = ApiBlueprint("other", __name__, url_prefix="/api/v1/other")

    @other.get("", responses={200: WidgetOut})
    def list_widgets() -> ViewResult:
        return {"name": "b"}

    app = make_app()
    app.register_api(other)  # type: ignore[attr-defined]

    with pytest.raises(ValueError, match="list_widgets"):
        app.api_doc  # type: ignore[attr-defined]  # noqa: B018 - building it is the test


def test_every_error_response_references_the_problem_component() -> None:
    spec = document(make_app())

    schemas = spec["components"]["schemas"]
    assert {"Problem", "ValidationProblem"} <= schemas.keys()
    for item in spec["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                wanted = "ValidationProblem" if status == "422" else "Problem"
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{wanted}"}


def test_an_operations_codes_are_named_in_its_response_and_its_description() -> None:
    spec = document(make_app())

    not_found = operation(spec, "/api/v1/widgets/{widget_id}", "get")["responses"]["404"]
    assert not_found[PROBLEM_CODES_EXTENSION] == ["not_found"]
    assert not_found["description"] == "Not found: `not_found`"
    deleted = operation(spec, "/api/v1/widgets/{widget_id}", "delete")["responses"]["404"]
    assert PROBLEM_CODES_EXTENSION not in deleted  # any code


def test_every_response_references_the_request_id_header() -> None:
    spec = document(make_app())

    for item in spec["paths"].values():
        for op in item.values():
            for response in op["responses"].values():
                assert response["headers"]["X-Request-ID"] == {
                    "$ref": "#/components/headers/X-Request-ID"
                }
    assert spec["components"]["headers"]["X-Request-ID"]["required"] is True


def test_headers_a_route_names_are_references_on_its_responses() -> None:
    spec = document(make_app())

    get = operation(spec, "/api/v1/widgets/{widget_id}", "get")
    assert get["responses"]["200"]["headers"]["ETag"] == {"$ref": "#/components/headers/ETag"}
    assert "x-response-headers" not in get
    overloaded = operation(spec, "/api/v1/widgets/{widget_id}", "delete")["responses"]["503"]
    assert overloaded["headers"]["Retry-After"] == {
        "$ref": "#/components/headers/Retry-After-If-Known"
    }
    assert spec["components"]["headers"]["Retry-After-If-Known"]["required"] is False
    assert spec["components"]["headers"]["Retry-After"]["required"] is True


def test_an_unknown_header_name_is_refused_where_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match="X-Unknown"):
        response_headers({200: ("X-Unknown",)})


def test_a_parameter_several_operations_declare_alike_is_one_component() -> None:
    spec = document(make_app())

    shared = spec["components"]["parameters"]
    assert shared["WidgetId"]["in"] == "path"
    assert shared["Limit"]["in"] == "query"
    for method in ("get", "delete"):
        parameters = operation(spec, "/api/v1/widgets/{widget_id}", method)["parameters"]
        assert {"$ref": "#/components/parameters/WidgetId"} in parameters


def test_problem_responses_reference_validation_problem_for_422() -> None:
    responses = problem_responses(422, 404)

    body = responses["422"]["content"]["application/problem+json"]  # type: ignore[index]
    assert body["schema"] == {"$ref": "#/components/schemas/ValidationProblem"}
    assert responses["404"]["content"]["application/problem+json"]["schema"] == PROBLEM  # type: ignore[index]
