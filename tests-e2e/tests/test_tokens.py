"""Access tokens that were changed after signing are refused by both services."""

import base64
import json
from typing import Any

import pytest
from e2e.typed_clients import TypedClients, problem
from identity_client.api.users import get_me
from identity_client.types import Response as IdentityResponse
from items_client.api.items import list_items
from items_client.types import Response as ItemsResponse


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


def _read_as(
    typed: TypedClients, service: str, token: str
) -> IdentityResponse[Any] | ItemsResponse[Any]:
    """`GET /users/me` at identity or `GET /items` at items, with `token`."""
    if service == "identity":
        return get_me.sync_detailed(client=typed.identity_as(token))
    return list_items.sync_detailed(client=typed.items_as(token))


@pytest.mark.parametrize("tampering", TAMPERINGS)
@pytest.mark.parametrize("service", ["identity", "items"])
def test_tampered_access_token_is_rejected_with_401(
    typed: TypedClients, service: str, tampering: str
) -> None:
    token = TAMPERINGS[tampering](typed.new_account().tokens.access_token)

    answer = _read_as(typed, service, token)

    assert answer.status_code == 401
    assert problem(answer.parsed) == (401, "invalid_token")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
