"""OpenAPI 3.1 from the controllers' Pydantic models, and Swagger UI served without a CDN."""

import copy
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import flask_openapi3_swagger
from flask import Blueprint, Response, current_app, jsonify, render_template_string, url_for
from flask_openapi3.blueprint import APIBlueprint
from flask_openapi3.openapi import OpenAPI
from flask_openapi3.types import ResponseDict
from pydantic import BaseModel

BEARER_SCHEME: Final = "bearerAuth"
SECURITY_SCHEMES: Final[dict[str, Any]] = {
    BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
}
BEARER_SECURITY: Final[list[dict[str, list[str]]]] = [{BEARER_SCHEME: []}]

PROBLEM: Final = "Problem"
VALIDATION_PROBLEM: Final = "ValidationProblem"
PROBLEM_CODES_EXTENSION: Final = "x-problem-codes"
"""On an error response: every `code` the operation answers with that status."""
RESPONSE_HEADERS_EXTENSION: Final = "x-response-headers"
"""On an operation, for `ServiceOpenAPI` to turn into header references (`response_headers`)."""

_PROBLEM_PROPERTIES: Final[dict[str, Any]] = {
    "type": {"type": "string", "description": "A URI naming the kind of problem"},
    "title": {"type": "string", "description": "The kind of problem, for people"},
    "status": {"type": "integer", "description": "The HTTP status"},
    "detail": {"type": "string", "description": "This occurrence, for people"},
    "instance": {"type": "string", "description": "The request's path"},
    "code": {
        "type": "string",
        "description": "Stable and machine-readable: what a client branches on (the "
        "response's description lists the ones an operation answers with)",
    },
    "request_id": {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "The request's `X-Request-ID`, as in the logs",
    },
}
_PROBLEM_REQUIRED: Final = ["type", "title", "status", "detail", "instance", "code", "request_id"]
_PROBLEM_EXAMPLE: Final[dict[str, Any]] = {
    "type": "about:blank",
    "title": "Not Found",
    "status": 404,
    "detail": "Item not found.",
    "instance": "/api/v1/items/0b7c9d43-56f6-4a4e-9f3c-2a4a9f0c1d2e",
    "code": "not_found",
    "request_id": "5f0c6b0e9a2d4c1b8e7f6a5b4c3d2e1f",
}

COMPONENT_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    PROBLEM: {
        "type": "object",
        "title": PROBLEM,
        "description": "An error, as RFC 9457 problem details (`application/problem+json`)",
        "required": _PROBLEM_REQUIRED,
        "properties": _PROBLEM_PROPERTIES,
        "examples": [_PROBLEM_EXAMPLE],
    },
    VALIDATION_PROBLEM: {
        "type": "object",
        "title": VALIDATION_PROBLEM,
        "description": "A 422: a `Problem`, with one entry in `errors` per broken rule when "
        "the request breaks the operation's schema (`validation_failed`); the operation's "
        "other 422 codes (`invalid_cursor`, ...) come without",
        "required": _PROBLEM_REQUIRED,
        "properties": {
            **_PROBLEM_PROPERTIES,
            "errors": {
                "type": "array",
                "description": "What was wrong, and where",
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
        "examples": [
            {
                **_PROBLEM_EXAMPLE,
                "title": "Validation Failed",
                "status": 422,
                "detail": "The request is not valid.",
                "instance": "/api/v1/items",
                "code": "validation_failed",
                "errors": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}],
            }
        ],
    },
}
"""The problem+json bodies: every error response of both services references one of these."""

COMPONENT_HEADERS: Final[dict[str, dict[str, Any]]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own `X-Request-ID` when it is safe "
        "(8-128 of `A-Za-z0-9._:-`), otherwise a new one; every log line of the request "
        "carries it",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After-If-Known": {
        "description": "Seconds to wait before trying again, when the service knows "
        "(`database_unavailable`, `overloaded`)",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (`Bearer`), with an RFC 6750 `error` "
        "for a bad token, or RFC 9470's `insufficient_user_authentication` and `max_age` when "
        "the login is too old",
        "required": True,
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The resource's version, a strong entity tag: send it back in "
        "`If-Match` to update only that version, or in `If-None-Match` to get 304 while it "
        "is current",
        "required": True,
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The URL of the created resource",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when the response is the stored answer to an earlier request "
        "with the same `Idempotency-Key`",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
}
"""Response headers both services document by reference (`#/components/headers/NAME`); the
header a component describes is its name, but for the variants in `_HEADER_OF`."""

_HEADER_OF: Final[dict[str, str]] = {"Retry-After-If-Known": "Retry-After"}

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

_STATUS_HEADERS: Final[dict[int, tuple[str, ...]]] = {
    401: ("WWW-Authenticate",),
    429: ("Retry-After",),
    503: ("Retry-After-If-Known",),
}


def header_refs(*components: str) -> dict[str, dict[str, str]]:
    """A response object's `headers`, each a reference to one of `COMPONENT_HEADERS`."""
    unknown = set(components) - COMPONENT_HEADERS.keys()
    if unknown:
        raise ValueError(f"no such header component: {sorted(unknown)}")
    return {
        _HEADER_OF.get(name, name): {"$ref": f"#/components/headers/{name}"} for name in components
    }


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


CURSOR_VALIDATION_CODES: Final[Mapping[int, Sequence[str]]] = {
    422: ("validation_failed", "invalid_cursor")
}
"""The 422 codes of a listing that takes a `cursor`: a parameter breaks its schema, or the cursor
has the right form but is not one this listing issued (which no schema can express)."""


def problem_responses(
    *statuses: int, codes: Mapping[int, Sequence[str]] | None = None
) -> ResponseDict:
    """OpenAPI response objects for the given error statuses, all problem+json: `Problem`
    (`ValidationProblem` for 422) by reference.

    `codes` names, per status, every `code` the operation answers with it: the description
    lists them and `x-problem-codes` holds them (the tests check answers against it).
    """
    codes = codes or {}
    return {str(status): _problem_response(status, codes.get(status, ())) for status in statuses}


def _problem_response(status: int, codes: Sequence[str]) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(status, "Error")
    if codes:
        description += ": " + ", ".join(f"`{code}`" for code in codes)
    schema = schema_ref(VALIDATION_PROBLEM if status == 422 else PROBLEM)
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": schema}},
        **({"headers": header_refs(*_STATUS_HEADERS[status])} if status in _STATUS_HEADERS else {}),
        **({PROBLEM_CODES_EXTENSION: list(codes)} if codes else {}),
    }


def response_headers(headers: Mapping[int, Sequence[str]]) -> dict[str, Any]:
    """`openapi_extensions` for a route: the named `COMPONENT_HEADERS` on the responses of
    these statuses, e.g. `response_headers({201: ("Location", "ETag")})`."""
    for names in headers.values():
        header_refs(*names)  # unknown names fail at import, not when the document is built
    return {
        RESPONSE_HEADERS_EXTENSION: {str(status): list(names) for status, names in headers.items()}
    }


def function_operation_id(*, name: str, path: str, method: str) -> str:
    """An operation's id is its view function's name (`login`, `create_item`): short, and
    stable while the function keeps its name (`ServiceOpenAPI` refuses duplicates)."""
    return name


class ApiBlueprint(APIBlueprint):
    """flask-openapi3's blueprint, naming operations after their view functions."""

    def __init__(self, name: str, import_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("operation_id_callback", function_operation_id)
        super().__init__(name, import_name, **kwargs)


def empty_response(description: str) -> dict[str, Any]:
    """An OpenAPI response object with no body (204, 304)."""
    return {"description": description}


class ServiceOpenAPI(OpenAPI):
    """flask-openapi3's app, with a document and an OPTIONS answer that match what it serves."""

    def generate_spec_json(self) -> None:
        """flask-openapi3's document, made one a client generator can build on: the
        problem+json bodies and the shared headers and parameters as components, every
        response with its `X-Request-ID`, and operation ids checked to be unique.

        flask-openapi3 also gives every operation without a 422 its own validation error (a
        JSON array); ours are problem+json (`ValidationProblem`), and an operation without
        any parameter or body has nothing to validate."""
        super().generate_spec_json()  # type: ignore[no-untyped-call]
        spec = self.spec_json
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop(self.validation_error_model.__name__, None)
        schemas.update(copy.deepcopy(COMPONENT_SCHEMAS))
        components["headers"] = copy.deepcopy(COMPONENT_HEADERS)
        operations = [op for item in spec["paths"].values() for op in item.values()]
        _refuse_duplicate_operation_ids(operations)
        for operation in operations:
            self._validation_response(operation)
            _reference_headers(operation)
        _share_parameters(components, operations)
        for schema in schemas.values():
            if "example" in schema:  # the models' `service_kit.schemas.example`
                schema["examples"] = [schema.pop("example")]
            elif "enum" in schema and "examples" not in schema:
                schema["examples"] = schema["enum"][:1]

    def _validation_response(self, operation: dict[str, Any]) -> None:
        responses = operation["responses"]
        default_model = self.validation_error_model.__name__
        if default_model not in json.dumps(responses.get(self.validation_error_status)):
            return
        if operation.get("parameters") or operation.get("requestBody"):
            responses.update(problem_responses(int(self.validation_error_status)))
        else:
            del responses[self.validation_error_status]

    def make_default_options_response(self) -> Response:
        """`Allow` and nothing else: no body, so no (HTML) content type either."""
        response = super().make_default_options_response()
        response.status_code = 204
        response.headers.pop("Content-Type", None)
        return response


def _refuse_duplicate_operation_ids(operations: Sequence[dict[str, Any]]) -> None:
    seen = Counter(operation.get("operationId") for operation in operations)
    duplicates = sorted(str(name) for name, count in seen.items() if count > 1)
    if duplicates:
        raise ValueError(f"operation ids used twice (rename a view function): {duplicates}")


def _reference_headers(operation: dict[str, Any]) -> None:
    """`X-Request-ID` on every response, and the headers `response_headers` asked for."""
    wanted = operation.pop(RESPONSE_HEADERS_EXTENSION, {})
    missing = set(wanted) - set(operation["responses"])
    if missing:
        raise ValueError(f"{operation.get('operationId')}: headers for no response {missing}")
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        headers.update(header_refs(*wanted.get(status, ())))
        headers.update(header_refs("X-Request-ID"))


def _share_parameters(components: dict[str, Any], operations: Sequence[dict[str, Any]]) -> None:
    """A parameter that several operations declare alike becomes one component
    (`#/components/parameters/IfNoneMatch`), which they reference."""
    uses: dict[str, list[tuple[list[Any], int]]] = defaultdict(list)
    for operation in operations:
        for index, parameter in enumerate(operation.get("parameters", [])):
            uses[json.dumps(parameter, sort_keys=True)].append((operation["parameters"], index))
    shared = components.setdefault("parameters", {})
    for definition, places in uses.items():
        parameter = json.loads(definition)
        name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", parameter["name"]))
        if len(places) < 2 or name in shared:
            continue  # used once, or a name two different definitions share: stays inline
        shared[name] = parameter
        for parameters, index in places:
            parameters[index] = {"$ref": f"#/components/parameters/{name}"}


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
