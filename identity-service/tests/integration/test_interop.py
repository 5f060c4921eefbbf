"""Access tokens verify with an independent JOSE library (joserfc) given only the public JWKS."""

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError
from joserfc.jwk import KeySet

from identity.config import IdentitySettings
from identity.models import User
from service_kit_testing import FakeClock
from tests.factories import make_user
from tests.integration.conftest import AuthActions


@dataclass(frozen=True)
class Issued:
    user: User
    access_token: str
    jwks: dict[str, Any]


@pytest.fixture
def issued(client: FlaskClient, auth: AuthActions) -> Issued:
    user = make_user(auth.session)
    access_token = str(auth.login(user.email)["access_token"])
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    jwks: dict[str, Any] = response.get_json()
    return Issued(user, access_token, jwks)


def _decode(issued: Issued, token: str | None = None) -> jwt.Token:
    key_set = KeySet.import_key_set(issued.jwks)  # type: ignore[arg-type]
    return jwt.decode(token or issued.access_token, key_set, algorithms=["ES256"])


def test_joserfc_verifies_the_signature_when_given_only_the_published_jwks(
    issued: Issued,
) -> None:
    token = _decode(issued)

    assert token.header["alg"] == "ES256"


def test_joserfc_rejects_the_signature_when_payload_was_modified(issued: Issued) -> None:
    header, payload, signature = issued.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    admin = base64.urlsafe_b64encode(json.dumps({**claims, "role": "admin"}).encode())
    forged = f"{header}.{admin.rstrip(b'=').decode()}.{signature}"

    with pytest.raises(BadSignatureError):
        _decode(issued, forged)


def test_joserfc_sees_header_typ_at_jwt_when_decoding_an_access_token(issued: Issued) -> None:
    token = _decode(issued)

    assert token.header["typ"] == "at+jwt"


def test_joserfc_sees_the_signing_kid_published_when_decoding_an_access_token(
    issued: Issued,
) -> None:
    token = _decode(issued)

    assert token.header["kid"] in {jwk["kid"] for jwk in issued.jwks["keys"]}


def test_joserfc_validates_iss_aud_sub_exp_when_checked_against_settings(
    issued: Issued, settings: IdentitySettings, clock: FakeClock
) -> None:
    token = _decode(issued)
    registry = jwt.JWTClaimsRegistry(
        now=int(clock.now().timestamp()),
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.access_token_audience},
        sub={"essential": True, "value": str(issued.user.public_id)},
        exp={"essential": True},
    )

    registry.validate(token.claims)  # raises a joserfc ClaimError on any mismatch


def test_joserfc_finds_the_token_expired_when_its_lifetime_has_passed(
    issued: Issued, settings: IdentitySettings, clock: FakeClock
) -> None:
    token = _decode(issued)
    clock.advance(seconds=settings.access_token_ttl_seconds)
    registry = jwt.JWTClaimsRegistry(now=int(clock.now().timestamp()), exp={"essential": True})

    with pytest.raises(ExpiredTokenError):
        registry.validate(token.claims)
