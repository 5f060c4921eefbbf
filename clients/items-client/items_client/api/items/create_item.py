from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.item_create import ItemCreate
from ...models.item_out import ItemOut
from ...models.problem import Problem
from ...models.validation_problem import ValidationProblem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: ItemCreate,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/items",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ItemOut | Problem | ValidationProblem | None:
    if response.status_code == 201:
        response_201 = ItemOut.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ValidationProblem.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ItemOut | Problem | ValidationProblem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ItemCreate,
    idempotency_key: str | Unset = UNSET,
) -> Response[ItemOut | Problem | ValidationProblem]:
    """Create an item. Send `Idempotency-Key` to make retries safe: a repeat with the same key

     and body (within 24 h) creates nothing and gets the first response again (status,
    body,<br/>`Location`, `ETag`, even if the item changed since), marked `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset): Repeat-safe POST: 1-255 visible ASCII characters (a random
            UUID is the usual choice). The same key and body again (same user, within 24 h) is the
            first response again; the same key with another body is 422 `idempotency_key_reused`
        body (ItemCreate): A new item; it belongs to the caller.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ItemOut | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: ItemCreate,
    idempotency_key: str | Unset = UNSET,
) -> ItemOut | Problem | ValidationProblem | None:
    """Create an item. Send `Idempotency-Key` to make retries safe: a repeat with the same key

     and body (within 24 h) creates nothing and gets the first response again (status,
    body,<br/>`Location`, `ETag`, even if the item changed since), marked `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset): Repeat-safe POST: 1-255 visible ASCII characters (a random
            UUID is the usual choice). The same key and body again (same user, within 24 h) is the
            first response again; the same key with another body is 422 `idempotency_key_reused`
        body (ItemCreate): A new item; it belongs to the caller.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ItemOut | Problem | ValidationProblem
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ItemCreate,
    idempotency_key: str | Unset = UNSET,
) -> Response[ItemOut | Problem | ValidationProblem]:
    """Create an item. Send `Idempotency-Key` to make retries safe: a repeat with the same key

     and body (within 24 h) creates nothing and gets the first response again (status,
    body,<br/>`Location`, `ETag`, even if the item changed since), marked `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset): Repeat-safe POST: 1-255 visible ASCII characters (a random
            UUID is the usual choice). The same key and body again (same user, within 24 h) is the
            first response again; the same key with another body is 422 `idempotency_key_reused`
        body (ItemCreate): A new item; it belongs to the caller.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ItemOut | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ItemCreate,
    idempotency_key: str | Unset = UNSET,
) -> ItemOut | Problem | ValidationProblem | None:
    """Create an item. Send `Idempotency-Key` to make retries safe: a repeat with the same key

     and body (within 24 h) creates nothing and gets the first response again (status,
    body,<br/>`Location`, `ETag`, even if the item changed since), marked `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset): Repeat-safe POST: 1-255 visible ASCII characters (a random
            UUID is the usual choice). The same key and body again (same user, within 24 h) is the
            first response again; the same key with another body is 422 `idempotency_key_reused`
        body (ItemCreate): A new item; it belongs to the caller.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ItemOut | Problem | ValidationProblem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
