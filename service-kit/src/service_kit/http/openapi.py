"""OpenAPI 3.1 from the controllers' Pydantic models, and Swagger UI served without a CDN."""

import json
import os
from typing import Any, Final, cast

import flask_openapi3_swagger
from flask import Blueprint, Response, current_app, jsonify, render_template_string, url_for
from flask_openapi3.openapi import OpenAPI
from flask_openapi3.types import ResponseDict
from pydantic import BaseModel

BEARER_SCHEME: Final = "bearerAuth"
SECURITY_SCHEMES: Final[dict[str, Any]] = {
    BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
}
BEARER_SECURITY: Final[list[dict[str, list[str]]]] = [{BEARER_SCHEME: []}]

_PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed request (for example a body that is not JSON)",
    401: "Missing or invalid credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    413: "Body too large",
    422: "Validation failed",
    429: "Too many requests",
    503: "Dependency unavailable (`database_unavailable`: the database could not be reached)",
}


_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with (`Bearer`)",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again (sent with `database_unavailable`)",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def problem_responses(*statuses: int) -> ResponseDict:
    """OpenAPI response objects for the given error statuses, all problem+json."""
    return {
        str(status): {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def empty_response(description: str) -> dict[str, Any]:
    """An OpenAPI response object with no body (204, 304)."""
    return {"description": description}


class ServiceOpenAPI(OpenAPI):
    """flask-openapi3's app, with a document and an OPTIONS answer that match what it serves."""

    def generate_spec_json(self) -> None:
        """flask-openapi3 gives every operation without a 422 its own validation error (a JSON
        array); ours are problem+json (`validation_problem`), and an operation without any
        parameter or body has nothing to validate."""
        super().generate_spec_json()  # type: ignore[no-untyped-call]
        default_model = self.validation_error_model.__name__
        for path_item in self.spec_json["paths"].values():
            for operation in path_item.values():
                responses = operation["responses"]
                if default_model not in json.dumps(responses.get(self.validation_error_status)):
                    continue
                if operation.get("parameters") or operation.get("requestBody"):
                    responses.update(problem_responses(int(self.validation_error_status)))
                else:
                    del responses[self.validation_error_status]
        self.spec_json["components"]["schemas"].pop(default_model, None)

    def make_default_options_response(self) -> Response:
        """`Allow` and nothing else: no body, so no (HTML) content type either."""
        response = super().make_default_options_response()
        response.status_code = 204
        response.headers.pop("Content-Type", None)
        return response


_DOCS_HTML: Final = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }} · API docs</title>
  <link rel="icon" href="{{ assets }}/images/swagger.svg">
  <link rel="stylesheet" href="{{ assets }}/css/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{ assets }}/js/swagger-ui-bundle.js"></script>
<script src="{{ assets }}/js/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: {{ spec_url|tojson }},
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
</script>
</body>
</html>
"""


def _swagger_assets_folder() -> str:
    return os.path.join(os.path.dirname(flask_openapi3_swagger.__file__), "templates", "swagger")


def _openapi_json() -> Response:
    return jsonify(cast(OpenAPI, current_app).api_doc)


def _docs_page() -> str:
    assets = url_for("docs.static", filename="").rstrip("/")
    return render_template_string(
        _DOCS_HTML,
        title=current_app.name,
        assets=assets,
        spec_url=url_for("docs.openapi_json"),
    )


def init_docs(app: OpenAPI) -> None:
    """Serve `/openapi.json` and Swagger UI at `/docs`, with the UI's assets from this service."""
    docs = Blueprint(
        "docs",
        __name__,
        static_folder=_swagger_assets_folder(),
        static_url_path="/docs/assets",
    )
    docs.add_url_rule("/openapi.json", "openapi_json", _openapi_json)
    docs.add_url_rule("/docs", "page", _docs_page)
    app.register_blueprint(docs)


JsonBody = dict[str, Any]
ViewResult = (
    JsonBody | Response | tuple[JsonBody | str, int] | tuple[JsonBody | str, int, dict[str, str]]
)
"""What a controller returns. Flask's own `ResponseReturnValue` holds forward references that
flask-openapi3 cannot resolve when it reads the view's annotations."""


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response serialised by Pydantic directly (no intermediate dict): the fast path
    for large bodies such as list pages."""
    return Response(model.model_dump_json(), status, headers, mimetype="application/json")
