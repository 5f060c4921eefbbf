"""RFC 8414 discovery through the gateway: from the tokens' issuer to the key that signed them."""

import base64
import json
from typing import Any

from e2e.api_client import ApiClient, expect_problem
from e2e.typed_clients import TypedClients, expect
from identity_client.api.discovery import authorization_server_metadata, jwks
from identity_client.models import AuthorizationServerMetadataOut, JwksOut


def token_part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def test_authorization_server_metadata_names_the_issuer_of_the_access_tokens(
    typed: TypedClients,
) -> None:
    token = typed.new_account().tokens.access_token

    metadata = expect(
        authorization_server_metadata.sync(client=typed.identity), AuthorizationServerMetadataOut
    )

    assert metadata.issuer == token_part(token, 1)["iss"]


def test_authorization_server_metadata_jwks_uri_publishes_the_key_that_signed_a_token(
    typed: TypedClients,
) -> None:
    token = typed.new_account().tokens.access_token
    metadata = expect(
        authorization_server_metadata.sync(client=typed.identity), AuthorizationServerMetadataOut
    )

    keys = expect(jwks.sync(client=typed.identity), JwksOut)

    assert metadata.jwks_uri.endswith("/.well-known/jwks.json")
    assert token_part(token, 0)["kid"] in [key.kid for key in keys.keys]


def test_openid_configuration_is_a_404_problem(api: ApiClient) -> None:
    # No operation of the document: raw HTTP.
    response = api.request("GET", "/.well-known/openid-configuration")

    expect_problem(response, 404, "not_found")
