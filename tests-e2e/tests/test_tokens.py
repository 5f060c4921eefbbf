"""Access tokens that were changed after signing are refused by both services."""

import base64
import json

import pytest
from e2e.api_client import Account, ApiClient, expect_problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_claims_changed(token: str, **claims: object) -> str:
    """The same token, signature untouched, with some payload claims replaced."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded.update(claims)
    return f"{header}.{_b64(json.dumps(decoded).encode())}.{signature}"


def with_signature_flipped(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    return f"{header}.{payload}.{_b64(bytes(raw))}"


TAMPERINGS = {
    "role raised to admin": lambda token: with_claims_changed(token, role="admin"),
    "expiry extended": lambda token: with_claims_changed(token, exp=4_102_444_800),
    "signature altered": with_signature_flipped,
}
ROUTES = {"identity": "/api/v1/users/me", "items": "/api/v1/items"}


@pytest.mark.parametrize("tampering", TAMPERINGS)
@pytest.mark.parametrize("service", ROUTES)
def test_tampered_access_token_is_rejected_with_401(
    api: ApiClient, account: Account, service: str, tampering: str
) -> None:
    token = TAMPERINGS[tampering](account.tokens.access_token)

    response = api.request("GET", ROUTES[service], token=token)

    expect_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
