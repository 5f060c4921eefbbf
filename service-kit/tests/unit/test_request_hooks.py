"""The order of `create_service_app`'s request hooks, seen from outside: the request id first,
then the authentication of marked views, then the checks that read the body and the query."""

import uuid
from dataclasses import asdict
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from service_kit.http.auth import current_principal, require_auth
from service_kit.http.openapi import ViewResult
from service_kit.origin import RequestOrigin, current_origin
from service_kit.security.jwt_verify import AccessTokenVerifier
from service_kit_testing import FakeClock
from service_kit_testing.auth import assert_invalid_token, bearer
from tests.apps import service_app

ISSUER = "https://identity.example.test"
AUDIENCE = "api"
KID = "key-1"
KEY = ec.generate_private_key(ec.SECP256R1())
CLOCK = FakeClock()
REQUEST_ID = "request-id-0001"


class OneKey:
    def find_key(self, kid: str) -> Any | None:
        return KEY.public_key() if kid == KID else None


def make_app(*, verifier: AccessTokenVerifier | None) -> Flask:
    app = service_app(verifier=verifier)

    @app.post("/api/v1/notes")
    @require_auth
    def create_note() -> ViewResult:
        return {"owner": str(current_principal().user_id)}, 201

    @app.get("/api/v1/origin")
    def origin() -> ViewResult:
        return asdict(current_origin() or RequestOrigin(None, None, None))

    return app


@pytest.fixture
def client() -> FlaskClient:
    verifier = AccessTokenVerifier(OneKey(), issuer=ISSUER, audience=AUDIENCE, clock=CLOCK)
    return make_app(verifier=verifier).test_client()


def a_token() -> str:
    now = int(CLOCK.now().timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "t",
        "sid": str(uuid.uuid4()),
        "role": "user",
    }
    return jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": KID, "typ": "at+jwt"})


def test_anonymous_call_is_401_before_its_malformed_body_or_repeated_query_is_looked_at(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/api/v1/notes?a=1&a=2",
        data="{",
        content_type="application/json",
        headers={"X-Request-ID": REQUEST_ID},
    )

    assert_invalid_token(response)
    assert response.headers["X-Request-ID"] == REQUEST_ID  # the id was bound before
    assert response.headers["Cache-Control"] == "no-store"


def test_authenticated_call_with_a_malformed_body_is_the_400_that_follows_authentication(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/api/v1/notes", data="{", content_type="application/json", headers=bearer(a_token())
    )

    assert response.status_code == 400
    assert response.get_json()["code"] == "malformed_json"


def test_authenticated_call_reaches_the_view_when_the_request_is_well_formed(
    client: FlaskClient,
) -> None:
    response = client.post("/api/v1/notes", json={}, headers=bearer(a_token()))

    assert response.status_code == 201


def test_marked_view_of_an_app_without_a_verifier_fails_loudly_not_open() -> None:
    client = make_app(verifier=None).test_client()

    response = client.post("/api/v1/notes", json={}, headers=bearer(a_token()))

    assert response.status_code == 500


def test_origin_is_bound_for_the_request_and_gone_after_it(client: FlaskClient) -> None:
    response = client.get(
        "/api/v1/origin",
        headers={"X-Request-ID": REQUEST_ID, "User-Agent": "u" * 300},
        environ_base={"REMOTE_ADDR": "198.51.100.4"},
    )

    assert response.get_json() == {
        "ip": "198.51.100.4",
        "user_agent": "u" * 255,
        "request_id": REQUEST_ID,
    }
    assert current_origin() is None
