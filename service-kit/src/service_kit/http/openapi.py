"""OpenAPI 3.1 from the controllers' Pydantic models, and Swagger UI served without a CDN."""

import json
import os
from collections.abc import Mapping, Sequence
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
    429: "Too many requests: the gateway's per-client budget for credential operations is spent",
    503: "Unavailable or overloaded; retry later (`database_unavailable`, `overloaded`)",
}


_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": (
                "The scheme to authenticate with (`Bearer`), with an RFC 6750 `error` for a bad "
                "token, or RFC 9470's `insufficient_user_authentication` and `max_age` when "
                "the login is too old"
            ),
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    503: {
        "Retry-After": {
            "description": (
                "Seconds to wait before trying again (sent with `database_unavailable` and "
                "`overloaded`)"
            ),
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


CURSOR_VALIDATION_CODES: Final[Mapping[int, Sequence[str]]] = {
    422: ("validation_failed", "invalid_cursor")
}
"""The 422 codes of a listing that takes a `cursor`: a parameter breaks its schema, or the cursor
has the right form but is not one this listing issued (which no schema can express)."""


def problem_responses(
    *statuses: int, codes: Mapping[int, Sequence[str]] | None = None
) -> ResponseDict:
    """OpenAPI response objects for the given error statuses, all problem+json.

    `codes` names, per status, every `code` the operation answers with it: the description
    lists them and the schema allows only them.
    """
    codes = codes or {}
    return {str(status): _problem_response(status, codes.get(status, ())) for status in statuses}


def _problem_response(status: int, codes: Sequence[str]) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(status, "Error")
    schema = _PROBLEM_SCHEMA
    if codes:
        description += ": " + ", ".join(f"`{code}`" for code in codes)
        properties = {**schema["properties"], "code": {"type": "string", "enum": list(codes)}}
        schema = {**schema, "properties": properties}
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": schema}},
        **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
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


# No inline script or style: the gateway's Content-Security-Policy for the docs allows scripts
# and styles from the page's own origin only. The page's one piece of logic is DOCS_INIT_JS,
# served as an asset beside Swagger UI's; it reads the spec URL from a data attribute. The
# layout is Swagger UI's BaseLayout: the standalone preset's top bar adds only a logo (an SVG
# with an inline <style> that such a policy blocks) and a box to explore other specs' URLs.
_DOCS_HTML: Final = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }} · API docs</title>
  <link rel="icon" href="{{ assets }}/images/swagger.svg">
  <link rel="stylesheet" href="{{ assets }}/css/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
<script src="{{ assets }}/js/swagger-ui-bundle.js"></script>
<script src="{{ init_js }}"></script>
</body>
</html>
"""

DOCS_INIT_JS: Final = """\
// Starts Swagger UI in #swagger-ui with the spec named by its data-spec-url attribute.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default sends the spec's URL to validator.swagger.io for a badge: nothing leaves.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""
DOCS_INIT_JS_PATH: Final = "/docs/assets/service-kit/swagger-init.js"
"""Under the assets' prefix, so whatever maps a service's /docs/assets/ (the gateway) maps it."""


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
        init_js=url_for("docs.init_js"),
    )


def _docs_init_js() -> Response:
    response = Response(DOCS_INIT_JS, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # like the other assets: revalidate
    return response


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
    # A static rule wins over the assets' `<path:filename>` one.
    docs.add_url_rule(DOCS_INIT_JS_PATH, "init_js", _docs_init_js)
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
    """How the services' controllers answer with a body: the response model serialised by
    Pydantic straight to JSON (no intermediate dict for Flask to encode again)."""
    return Response(model.model_dump_json(), status, headers, mimetype="application/json")
