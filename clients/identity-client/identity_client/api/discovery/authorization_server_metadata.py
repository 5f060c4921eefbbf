from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.authorization_server_metadata_out import AuthorizationServerMetadataOut
from ...models.problem import Problem
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/.well-known/oauth-authorization-server",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AuthorizationServerMetadataOut | Problem | None:
    if response.status_code == 200:
        response_200 = AuthorizationServerMetadataOut.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AuthorizationServerMetadataOut | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[AuthorizationServerMetadataOut | Problem]:
    """RFC 8414 metadata: the issuer and where its keys are.

     <br/>Only what is true of this server: login, refresh and logout are this API's own
    JSON<br/>endpoints, not RFC 6749 / RFC 7009 form-encoded ones, so no token, authorization
    or<br/>revocation endpoint is published, and the grant and response types are explicitly
    empty<br/>(RFC 8414 reads an omitted `grant_types_supported` as authorization_code and implicit).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuthorizationServerMetadataOut | Problem]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
) -> AuthorizationServerMetadataOut | Problem | None:
    """RFC 8414 metadata: the issuer and where its keys are.

     <br/>Only what is true of this server: login, refresh and logout are this API's own
    JSON<br/>endpoints, not RFC 6749 / RFC 7009 form-encoded ones, so no token, authorization
    or<br/>revocation endpoint is published, and the grant and response types are explicitly
    empty<br/>(RFC 8414 reads an omitted `grant_types_supported` as authorization_code and implicit).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuthorizationServerMetadataOut | Problem
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
) -> Response[AuthorizationServerMetadataOut | Problem]:
    """RFC 8414 metadata: the issuer and where its keys are.

     <br/>Only what is true of this server: login, refresh and logout are this API's own
    JSON<br/>endpoints, not RFC 6749 / RFC 7009 form-encoded ones, so no token, authorization
    or<br/>revocation endpoint is published, and the grant and response types are explicitly
    empty<br/>(RFC 8414 reads an omitted `grant_types_supported` as authorization_code and implicit).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuthorizationServerMetadataOut | Problem]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
) -> AuthorizationServerMetadataOut | Problem | None:
    """RFC 8414 metadata: the issuer and where its keys are.

     <br/>Only what is true of this server: login, refresh and logout are this API's own
    JSON<br/>endpoints, not RFC 6749 / RFC 7009 form-encoded ones, so no token, authorization
    or<br/>revocation endpoint is published, and the grant and response types are explicitly
    empty<br/>(RFC 8414 reads an omitted `grant_types_supported` as authorization_code and implicit).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuthorizationServerMetadataOut | Problem
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
