"""What `create_service_app` wires into every service: one spelling per route, and no answer
that a cache may keep unless its view says so."""

import re

import flask
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service_kit.http.openapi import ViewResult
from tests.apps import service_app

PROBLEM_JSON = "application/problem+json"
PUBLIC = "public, max-age=300"
BEARER = {"Authorization": "Bearer anything"}


def make_app() -> Flask:
    app = service_app()

    @app.post("/api/v1/auth/login")
    def login() -> ViewResult:
        return {"view": "login"}

    @app.get("/api/v1/widgets/<name>")
    def widget(name: str) -> ViewResult:
        return {"name": name}

    @app.post("/api/v1/tokens")
    def tokens() -> ViewResult:
        return {"access_token": "a", "refresh_token": "r"}

    @app.get("/api/v1/public")
    def public() -> ViewResult:
        return {"keys": []}, 200, {"Cache-Control": PUBLIC}

    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _sample_path(rule: str) -> str:
    return re.sub(r"<[^<>]+>", "x", rule)


def _a_method_of(methods: set[str] | None) -> str:
    return min((methods or {"GET"}) - {"HEAD", "OPTIONS"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/auth/login/"),
        ("GET", "/api/v1/widgets/a/"),
        ("GET", "/health/live/"),
        ("GET", "/openapi.json/"),
        ("GET", "/docs/"),
    ],
)
def test_request_is_a_problem_404_when_the_path_has_a_trailing_slash(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, json={})

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["code"] == "not_found"
    assert "Location" not in response.headers


def test_request_reaches_the_view_when_the_path_has_no_trailing_slash(
    client: FlaskClient,
) -> None:
    response = client.post("/api/v1/auth/login", json={})

    assert response.status_code == 200
    assert response.get_json() == {"view": "login"}


def test_no_rule_of_the_kit_ends_with_a_slash(app: Flask) -> None:
    """A rule ending in `/` would make werkzeug redirect the slash-less spelling (an HTML 308
    that bypasses the problem handlers)."""
    rules = [rule.rule for rule in app.url_map.iter_rules()]

    assert [rule for rule in rules if rule.endswith("/")] == []


def test_every_rule_answers_a_problem_404_not_a_redirect_when_a_slash_is_appended(
    app: Flask, client: FlaskClient
) -> None:
    answers = {
        rule.rule: client.open(_sample_path(rule.rule) + "/", method=_a_method_of(rule.methods))
        for rule in app.url_map.iter_rules()
    }

    assert {rule: (r.status_code, r.mimetype) for rule, r in answers.items()} == {
        rule: (404, PROBLEM_JSON) for rule in answers
    }


def test_response_is_no_store_when_the_view_sets_no_cache_policy(client: FlaskClient) -> None:
    response = client.post("/api/v1/tokens")

    assert response.headers.get_all("Cache-Control") == ["no-store"]


def test_response_keeps_the_views_cache_policy_when_the_request_is_anonymous(
    client: FlaskClient,
) -> None:
    response = client.get("/api/v1/public")

    assert response.headers.get_all("Cache-Control") == [PUBLIC]


@pytest.mark.parametrize(
    "path", ["/api/v1/public", "/api/v1/widgets/a", "/api/v1/nothing-here", "/health/live"]
)
def test_response_is_no_store_when_the_request_carries_authorization(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path, headers=BEARER)

    assert response.headers.get_all("Cache-Control") == ["no-store"]


def test_error_response_is_no_store_when_the_view_sets_no_cache_policy(
    client: FlaskClient,
) -> None:
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers.get_all("Cache-Control") == ["no-store"]


def test_docs_page_has_no_inline_script_or_style(client: FlaskClient) -> None:
    """The gateway's policy for the docs runs scripts and styles from files only."""
    html = client.get("/docs").get_data(as_text=True)

    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert scripts
    assert [attributes for attributes, body in scripts if "src=" not in attributes or body] == []
    assert re.search(r"<style\b|\sstyle=|\son[a-z]+=", html) is None


def test_docs_init_script_is_served_as_javascript_beside_the_assets(client: FlaskClient) -> None:
    html = client.get("/docs").get_data(as_text=True)
    [init_js] = re.findall(r'<script src="(/docs/assets/service-kit/[^"]+)"', html)

    response = client.get(init_js)

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "SwaggerUIBundle(" in response.get_data(as_text=True)


def test_request_sets_no_session_cookie_when_a_cookie_session_arrives(
    app: Flask, client: FlaskClient
) -> None:
    client.set_cookie("session", "eyJzZWVuIjp0cnVlfQ.forged.signature")

    response = client.get("/api/v1/public")

    assert "Set-Cookie" not in response.headers
    with app.test_request_context("/", headers={"Cookie": "session=anything"}):
        assert dict(flask.session) == {}


def test_writing_to_the_session_is_refused_because_the_services_keep_no_cookie_sessions(
    app: Flask,
) -> None:
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="session"):
        flask.session["seen"] = True
