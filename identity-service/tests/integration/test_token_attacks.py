"""Forged, stale and misused bearer tokens all get the same 401 `invalid_token` problem."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI

from identity.config import IdentitySettings
from identity.security.keys import load_public_jwk
from identity.security.signing import ActiveSigningKey
from identity.wiring import components
from service_kit_testing import FakeClock, forgery
from service_kit_testing.auth import assert_invalid_token, bearer
from tests.factories import make_user
from tests.integration.conftest import AuthActions

ME = "/api/v1/users/me"
VERIFIER_LEEWAY_SECONDS = 30  # AccessTokenVerifier's default; create_app does not change it


@dataclass
class Attacker:
    """Holds a genuine login and forges variations of its access token."""

    app: OpenAPI
    client: FlaskClient
    clock: FakeClock
    settings: IdentitySettings
    tokens: dict[str, Any]

    @property
    def access_token(self) -> str:
        return str(self.tokens["access_token"])

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(self.access_token, options={"verify_signature": False})
        return claims

    def header(self) -> dict[str, Any]:
        return jwt.get_unverified_header(self.access_token)

    def signing_key(self) -> ActiveSigningKey:
        with self.app.app_context():
            return components().key_ring.active_signing_key()

    def published_public_key_pem(self) -> bytes:
        jwks = self.client.get("/.well-known/jwks.json").get_json()
        [jwk] = [jwk for jwk in jwks["keys"] if jwk["kid"] == self.header()["kid"]]
        return forgery.public_key_pem(load_public_jwk(jwk))

    def resign(self, *, headers: dict[str, Any] | None = None, **claim_overrides: Any) -> str:
        """The genuine claims (with overrides) signed validly by the app's own active key."""
        key = self.signing_key()
        return jwt.encode(
            {**self.claims(), **claim_overrides},
            key.private_key,
            algorithm=key.algorithm,
            headers=headers or {"kid": key.kid, "typ": "at+jwt"},
        )


@pytest.fixture
def attacker(
    app: OpenAPI,
    client: FlaskClient,
    clock: FakeClock,
    settings: IdentitySettings,
    auth: AuthActions,
) -> Attacker:
    user = make_user(auth.session)
    return Attacker(app, client, clock, settings, auth.login(user.email))


def alg_none(attacker: Attacker) -> dict[str, str]:
    return bearer(forgery.alg_none(attacker.header(), attacker.claims()))


def hs256_keyed_with_public_key(attacker: Attacker) -> dict[str, str]:
    pem = attacker.published_public_key_pem()
    return bearer(forgery.hs256_keyed_with(pem, attacker.header(), attacker.claims()))


def unknown_kid(attacker: Attacker) -> dict[str, str]:
    # Signed by the real key, so only the unpublished kid is wrong.
    return bearer(attacker.resign(headers={"kid": "unpublished-kid", "typ": "at+jwt"}))


def foreign_key_under_published_kid(attacker: Attacker) -> dict[str, str]:
    own_key = ec.generate_private_key(ec.SECP256R1())
    headers = {"kid": attacker.header()["kid"], "typ": "at+jwt"}
    return bearer(jwt.encode(attacker.claims(), own_key, algorithm="ES256", headers=headers))


def wrong_issuer(attacker: Attacker) -> dict[str, str]:
    return bearer(attacker.resign(iss="https://evil.example.com"))


def wrong_audience(attacker: Attacker) -> dict[str, str]:
    return bearer(attacker.resign(aud="some-other-api"))


def typ_plain_jwt(attacker: Attacker) -> dict[str, str]:
    key = attacker.signing_key()
    return bearer(attacker.resign(headers={"kid": key.kid, "typ": "JWT"}))


def expired(attacker: Attacker) -> dict[str, str]:
    attacker.clock.advance(
        seconds=attacker.settings.access_token_ttl_seconds + VERIFIER_LEEWAY_SECONDS + 1
    )
    return bearer(attacker.access_token)


def not_yet_valid(attacker: Attacker) -> dict[str, str]:
    return bearer(attacker.resign(nbf=attacker.claims()["nbf"] + 3600))


def tampered_role(attacker: Attacker) -> dict[str, str]:
    claims = {**attacker.claims(), "role": "admin"}
    return bearer(forgery.with_payload(attacker.access_token, claims))


def refresh_token_as_bearer(attacker: Attacker) -> dict[str, str]:
    return bearer(str(attacker.tokens["refresh_token"]))


def no_authorization_header(attacker: Attacker) -> dict[str, str]:
    return {}


def _header(value: str) -> Callable[[Attacker], dict[str, str]]:
    return lambda attacker: {"Authorization": value}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(alg_none, id="alg-none"),
        pytest.param(hs256_keyed_with_public_key, id="hs256-with-public-key-pem"),
        pytest.param(unknown_kid, id="unknown-kid"),
        pytest.param(foreign_key_under_published_kid, id="foreign-key-published-kid"),
        pytest.param(wrong_issuer, id="wrong-iss"),
        pytest.param(wrong_audience, id="wrong-aud"),
        pytest.param(typ_plain_jwt, id="typ-jwt"),
        pytest.param(expired, id="expired"),
        pytest.param(not_yet_valid, id="nbf-in-future"),
        pytest.param(tampered_role, id="tampered-role-admin"),
        pytest.param(refresh_token_as_bearer, id="refresh-token-as-bearer"),
        pytest.param(no_authorization_header, id="no-authorization-header"),
        pytest.param(_header("Bearer not-a-jwt"), id="garbage-bearer"),
        pytest.param(_header("Bearer a.b.c"), id="garbage-segments"),
        pytest.param(_header("Bearer "), id="empty-bearer"),
        pytest.param(_header("Basic dXNlcjpwYXNzd29yZA=="), id="basic-scheme"),
        pytest.param(_header("garbage"), id="garbage-header"),
    ],
)
def test_get_me_answers_401_invalid_token_when_bearer_token_is_not_trusted(
    client: FlaskClient, attacker: Attacker, forge: Callable[[Attacker], dict[str, str]]
) -> None:
    headers = forge(attacker)

    response = client.get(ME, headers=headers)

    assert_invalid_token(response)


# Controls: the forging harness itself produces accepted tokens, so each rejection above is
# caused by the one thing the forgery changed.


def test_get_me_answers_200_when_token_is_the_one_login_issued(
    client: FlaskClient, attacker: Attacker
) -> None:
    response = client.get(ME, headers=bearer(attacker.access_token))

    assert response.status_code == 200


def test_get_me_answers_200_when_genuine_claims_are_resigned_with_the_active_key(
    client: FlaskClient, attacker: Attacker
) -> None:
    token = attacker.resign()

    response = client.get(ME, headers=bearer(token))

    assert response.status_code == 200


def test_get_me_answers_200_when_token_expired_within_the_leeway(
    client: FlaskClient, attacker: Attacker
) -> None:
    attacker.clock.advance(
        seconds=attacker.settings.access_token_ttl_seconds + VERIFIER_LEEWAY_SECONDS - 1
    )

    response = client.get(ME, headers=bearer(attacker.access_token))

    assert response.status_code == 200
