"""RFC 8414 discovery through the gateway: from the tokens' issuer to the key that signed them."""

import base64
import json
from typing import Any
from urllib.parse import urlsplit

from e2e.api_client import Account, ApiClient, expect_problem


def token_part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def test_authorization_server_metadata_names_the_issuer_of_the_access_tokens(
    api: ApiClient, account: Account
) -> None:
    response = api.request("GET", "/.well-known/oauth-authorization-server")

    assert response.status_code == 200, response.text[:500]
    assert response.json()["issuer"] == token_part(account.tokens.access_token, 1)["iss"]


def test_authorization_server_metadata_jwks_uri_publishes_the_key_that_signed_a_token(
    api: ApiClient, account: Account
) -> None:
    metadata = api.request("GET", "/.well-known/oauth-authorization-server").json()

    jwks = api.request("GET", urlsplit(metadata["jwks_uri"]).path).json()

    kid = token_part(account.tokens.access_token, 0)["kid"]
    assert kid in [key["kid"] for key in jwks["keys"]]


def test_openid_configuration_is_a_404_problem(api: ApiClient) -> None:
    response = api.request("GET", "/.well-known/openid-configuration")

    expect_problem(response, 404, "not_found")
