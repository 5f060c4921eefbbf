"""Forged, stale and misused bearer tokens on /api/v1/items: every one is 401 `invalid_token`."""

import secrets
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from items.config import ItemsSettings
from service_kit_testing import forgery
from service_kit_testing.auth import assert_invalid_token, bearer
from tests.conftest import TokenIssuer

ITEMS = "/api/v1/items"
ACCESS_TTL_SECONDS = 900  # TokenIssuer.token's default lifetime

Forge = Callable[[TokenIssuer, ItemsSettings], dict[str, str]]


def _genuine_claims(issuer: TokenIssuer) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(issuer.token(), options={"verify_signature": False})
    return claims


def _signed(issuer: TokenIssuer, claims: dict[str, Any], headers: dict[str, Any]) -> str:
    return jwt.encode(claims, issuer.private_key, algorithm="ES256", headers=headers)


def alg_none(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    header = {"typ": "at+jwt", "kid": issuer.kid}
    return bearer(forgery.alg_none(header, _genuine_claims(issuer)))


def hs256_keyed_with_public_key_pem(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    pem = forgery.public_key_pem(issuer.private_key.public_key())
    header = {"typ": "at+jwt", "kid": issuer.kid}
    return bearer(forgery.hs256_keyed_with(pem, header, _genuine_claims(issuer)))


def unknown_kid(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    headers = {"kid": "attacker-key", "typ": "at+jwt"}
    return bearer(_signed(issuer, _genuine_claims(issuer), headers))


def foreign_key_under_trusted_kid(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    own_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        _genuine_claims(issuer),
        own_key,
        algorithm="ES256",
        headers={"kid": issuer.kid, "typ": "at+jwt"},
    )
    return bearer(token)


def wrong_issuer(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return bearer(issuer.token(iss="https://evil.example.com"))


def wrong_audience(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return bearer(issuer.token(aud="some-other-api"))


def expired(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    token = issuer.token()
    issuer.clock.advance(seconds=ACCESS_TTL_SECONDS + settings.token_leeway_seconds + 1)
    return bearer(token)


def not_yet_valid(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    nbf = int(issuer.clock.now().timestamp()) + settings.token_leeway_seconds + 60
    return bearer(issuer.token(nbf=nbf))


def tampered_payload(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    forged = {**_genuine_claims(issuer), "role": "admin"}
    return bearer(forgery.with_payload(issuer.token(), forged))


def typ_plain_jwt(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return bearer(_signed(issuer, _genuine_claims(issuer), {"kid": issuer.kid, "typ": "JWT"}))


def typ_missing(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return bearer(_signed(issuer, _genuine_claims(issuer), {"kid": issuer.kid, "typ": None}))


def lifetime_beyond_the_maximum(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    # Revocations are remembered for the longest lifetime identity issues: no token outlives it.
    return bearer(issuer.token(ttl_seconds=settings.access_token_max_ttl_seconds + 1))


def refresh_token_like_string(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return bearer(secrets.token_urlsafe(32))  # what identity hands out as a refresh token


def no_authorization_header(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
    return {}


def _header(value: str) -> Forge:
    return lambda issuer, settings: {"Authorization": value}


def _claim_removed(name: str) -> Forge:
    def forge(issuer: TokenIssuer, settings: ItemsSettings) -> dict[str, str]:
        claims = _genuine_claims(issuer)
        del claims[name]
        return bearer(_signed(issuer, claims, {"kid": issuer.kid, "typ": "at+jwt"}))

    return forge


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(alg_none, id="alg-none"),
        pytest.param(hs256_keyed_with_public_key_pem, id="hs256-with-public-key-pem"),
        pytest.param(unknown_kid, id="unknown-kid"),
        pytest.param(foreign_key_under_trusted_kid, id="foreign-key-trusted-kid"),
        pytest.param(wrong_issuer, id="wrong-iss"),
        pytest.param(wrong_audience, id="wrong-aud"),
        pytest.param(expired, id="expired-past-leeway"),
        pytest.param(not_yet_valid, id="nbf-in-future"),
        pytest.param(tampered_payload, id="tampered-payload"),
        pytest.param(typ_plain_jwt, id="typ-jwt"),
        pytest.param(typ_missing, id="typ-missing"),
        pytest.param(_claim_removed("exp"), id="exp-missing"),
        pytest.param(_claim_removed("aud"), id="aud-missing"),
        pytest.param(_claim_removed("iss"), id="iss-missing"),
        pytest.param(_claim_removed("sub"), id="sub-missing"),
        pytest.param(lifetime_beyond_the_maximum, id="lifetime-beyond-maximum"),
        pytest.param(refresh_token_like_string, id="refresh-token-like-string"),
        pytest.param(no_authorization_header, id="missing-header"),
        pytest.param(_header("Bearer "), id="empty-bearer"),
        pytest.param(_header("Bearer a.b.c"), id="garbage-segments"),
        pytest.param(_header("Basic dXNlcjpwYXNzd29yZA=="), id="basic-scheme"),
    ],
)
def test_list_items_answers_401_invalid_token_when_bearer_token_is_not_trusted(
    client: FlaskClient, issuer: TokenIssuer, settings: ItemsSettings, forge: Forge
) -> None:
    headers = forge(issuer, settings)

    response = client.get(ITEMS, headers=headers)

    assert_invalid_token(response)


def test_list_items_answers_200_when_token_expired_within_the_leeway(
    client: FlaskClient, issuer: TokenIssuer, settings: ItemsSettings
) -> None:
    token = issuer.token()
    issuer.clock.advance(seconds=ACCESS_TTL_SECONDS + settings.token_leeway_seconds - 1)

    response = client.get(ITEMS, headers=bearer(token))

    assert response.status_code == 200


def test_list_items_answers_200_when_token_is_genuine(
    client: FlaskClient, issuer: TokenIssuer
) -> None:
    response = client.get(ITEMS, headers=issuer.headers(uuid.uuid4()))

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ITEMS),
        ("GET", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("PATCH", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("DELETE", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("POST", f"{ITEMS}/{uuid.UUID(int=1)}/restore"),
    ],
)
def test_item_endpoint_answers_401_invalid_token_when_request_has_no_token(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method, json={"name": "x"})

    assert_invalid_token(response)
