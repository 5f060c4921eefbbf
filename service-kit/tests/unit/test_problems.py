"""Every error of an app with `register_problem_handlers` is an RFC 9457 problem+json response."""

import re

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from service_kit.errors import (
    AuthenticationError,
    BusinessRuleError,
    ConflictError,
    DomainError,
    InvalidTokenError,
    NotFoundError,
    PermissionDeniedError,
    ReauthenticationRequiredError,
    ServiceUnavailableError,
)
from service_kit.http.problems import register_problem_handlers, reject_malformed_json
from service_kit.http.request_id import bind_request_id, echo_request_id, unbind_request_id

PROBLEM_JSON = "application/problem+json"
INTERNAL_SECRET = "connection to db-primary:5432 failed for user admin"
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


class WidgetNotFoundError(NotFoundError):
    code, title = "widget_not_found", "Widget not found"
    default_detail = "No widget has this name."


class WidgetIn(BaseModel):
    name: str = Field(max_length=5)
    count: int


class BusyError(ServiceUnavailableError):
    code, title = "busy", "Busy"
    retry_after_seconds = 3


class StaleLoginError(ReauthenticationRequiredError):
    def __init__(self) -> None:
        super().__init__(max_age_seconds=300)


DOMAIN_ERRORS: dict[str, type[DomainError]] = {
    "busy": BusyError,
    "stale-login": StaleLoginError,
    "not-found": WidgetNotFoundError,
    "conflict": ConflictError,
    "authentication": AuthenticationError,
    "invalid-token": InvalidTokenError,
    "permission": PermissionDeniedError,
    "business-rule": BusinessRuleError,
    "unavailable": ServiceUnavailableError,
    "uncategorised": DomainError,
}


def make_app() -> Flask:
    app = Flask(__name__)
    app.before_request(bind_request_id)
    app.before_request(reject_malformed_json)
    app.after_request(echo_request_id)
    app.teardown_request(unbind_request_id)
    register_problem_handlers(app)

    @app.get("/errors/<name>")
    def raise_domain_error(name: str) -> ResponseReturnValue:
        raise DOMAIN_ERRORS[name]()

    @app.post("/widgets")
    def create_widget() -> ResponseReturnValue:
        widget = WidgetIn.model_validate(request.get_json())
        return widget.model_dump(), 201

    @app.get("/boom")
    def boom() -> ResponseReturnValue:
        raise RuntimeError(INTERNAL_SECRET)

    return app


@pytest.fixture
def client() -> FlaskClient:
    return make_app().test_client()


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("not-found", 404, "widget_not_found"),
        ("conflict", 409, "conflict"),
        ("authentication", 401, "unauthenticated"),
        ("invalid-token", 401, "invalid_token"),
        ("stale-login", 401, "reauthentication_required"),
        ("permission", 403, "forbidden"),
        ("business-rule", 422, "business_rule_violated"),
        ("unavailable", 503, "service_unavailable"),
        ("uncategorised", 400, "domain_error"),
    ],
)
def test_domain_error_renders_category_status_and_code_when_raised_in_a_view(
    client: FlaskClient, name: str, status: int, code: str
) -> None:
    response = client.get(f"/errors/{name}")

    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == code


def test_domain_error_renders_rfc9457_body_when_raised_in_a_view(client: FlaskClient) -> None:
    response = client.get("/errors/not-found", headers={"X-Request-ID": "req-12345678"})

    assert response.json == {
        "type": "urn:problem-type:widget_not_found",
        "title": "Widget not found",
        "status": 404,
        "detail": "No widget has this name.",
        "instance": "/errors/not-found",
        "code": "widget_not_found",
        "request_id": "req-12345678",
    }


def test_unavailable_error_sets_retry_after_when_it_names_a_delay(client: FlaskClient) -> None:
    response = client.get("/errors/busy")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"


def test_unavailable_error_sends_no_retry_after_when_it_names_no_delay(
    client: FlaskClient,
) -> None:
    response = client.get("/errors/unavailable")

    assert response.status_code == 503
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("name", "challenge"),
    [
        ("authentication", "Bearer"),
        ("invalid-token", 'Bearer error="invalid_token"'),
        (
            "stale-login",
            'Bearer error="insufficient_user_authentication", '
            'error_description="A more recent login is required", max_age="300"',
        ),
    ],
)
def test_authentication_error_sets_bearer_challenge_when_rendered(
    client: FlaskClient, name: str, challenge: str
) -> None:
    response = client.get(f"/errors/{name}")

    assert response.headers["WWW-Authenticate"] == challenge


def test_unknown_url_renders_404_problem_when_no_route_matches(client: FlaskClient) -> None:
    response = client.get("/no/such/place")

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == "not_found"


def test_wrong_method_renders_405_problem_when_route_exists(client: FlaskClient) -> None:
    response = client.delete("/widgets")

    assert response.status_code == 405
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == "method_not_allowed"


def test_wrong_method_keeps_allow_header_when_rendered_as_problem(client: FlaskClient) -> None:
    response = client.delete("/widgets")

    assert "POST" in {method.strip() for method in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("body", ["{", '{"name": ', "not json at all", "[1, 2", "null"])
def test_malformed_json_renders_400_malformed_json_when_body_does_not_parse(
    client: FlaskClient, body: str
) -> None:
    response = client.post("/widgets", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == "malformed_json"


def test_unexpected_exception_renders_500_internal_error_when_view_crashes(
    client: FlaskClient,
) -> None:
    response = client.get("/boom")

    assert response.status_code == 500
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == "internal_error"


def test_unexpected_exception_hides_its_message_when_rendered(client: FlaskClient) -> None:
    response = client.get("/boom")

    assert INTERNAL_SECRET not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)


def test_unexpected_exception_is_logged_with_traceback_when_view_crashes(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/boom")

    [record] = [r for r in caplog.records if r.name == "service_kit.http.problems"]
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


def test_validation_error_renders_422_with_field_locations_when_body_is_invalid(
    client: FlaskClient,
) -> None:
    response = client.post("/widgets", json={"name": "too-long-name", "count": "many"})

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert response.json is not None
    assert response.json["code"] == "validation_failed"
    assert sorted(error["loc"] for error in response.json["errors"]) == [["count"], ["name"]]


def test_validation_error_never_echoes_the_input_when_body_is_invalid(
    client: FlaskClient,
) -> None:
    secret_name = "hunter2-secret-name"
    secret_count = "hunter2-secret-count"

    response = client.post("/widgets", json={"name": secret_name, "count": secret_count})

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert secret_name not in text
    assert secret_count not in text
    assert all("input" not in error for error in response.json["errors"])  # type: ignore[index]


@pytest.mark.parametrize(
    "request_id", ["abcdef12", "req-2030.01.01:node_7", "0123456789abcdef0123456789abcdef"]
)
def test_request_id_is_echoed_when_incoming_header_is_safe(
    client: FlaskClient, request_id: str
) -> None:
    response = client.get("/errors/not-found", headers={"X-Request-ID": request_id})

    assert response.headers["X-Request-ID"] == request_id
    assert response.json is not None
    assert response.json["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        pytest.param("short", id="too-short"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("<script>alert(1)</script>", id="markup"),
        pytest.param('id";drop', id="quote"),
    ],
)
def test_request_id_is_replaced_when_incoming_header_is_unsafe(
    client: FlaskClient, request_id: str
) -> None:
    response = client.get("/errors/not-found", headers={"X-Request-ID": request_id})

    assert GENERATED_REQUEST_ID.fullmatch(response.headers["X-Request-ID"])
    assert response.json is not None
    assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_request_id_is_generated_when_no_header_is_sent(client: FlaskClient) -> None:
    response = client.get("/errors/not-found")

    assert GENERATED_REQUEST_ID.fullmatch(response.headers["X-Request-ID"])


def test_database_error_answers_500_when_it_is_not_about_reaching_the_database() -> None:
    app = make_app()

    @app.get("/duplicate")
    def duplicate() -> ResponseReturnValue:
        raise IntegrityError("INSERT INTO widgets", {}, Exception("duplicate key"))

    response = app.test_client().get("/duplicate")

    assert response.status_code == 500
    assert response.json is not None
    assert response.json["code"] == "internal_error"
