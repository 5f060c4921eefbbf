from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.tag_out import TagOut
from ...models.validation_problem import ValidationProblem
from ...types import Response


def _get_kwargs(
    item_id: UUID,
    tag: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/api/v1/items/{item_id}/tags/{tag}".format(
            item_id=quote(str(item_id), safe=""),
            tag=quote(str(tag), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | TagOut | ValidationProblem | None:
    if response.status_code == 200:
        response_200 = TagOut.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = TagOut.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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
) -> Response[Problem | TagOut | ValidationProblem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    item_id: UUID,
    tag: str,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | TagOut | ValidationProblem]:
    """Put a tag on the item: 201 when added, 200 when the item had it already (a retry is

     safe); 409 `too_many_tags` at the limit (10 per item).

    Args:
        item_id (UUID):
        tag (str): 1-32 lowercase letters, digits and `-`, not starting with `-`

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TagOut | ValidationProblem]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        tag=tag,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    item_id: UUID,
    tag: str,
    *,
    client: AuthenticatedClient,
) -> Problem | TagOut | ValidationProblem | None:
    """Put a tag on the item: 201 when added, 200 when the item had it already (a retry is

     safe); 409 `too_many_tags` at the limit (10 per item).

    Args:
        item_id (UUID):
        tag (str): 1-32 lowercase letters, digits and `-`, not starting with `-`

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TagOut | ValidationProblem
    """

    return sync_detailed(
        item_id=item_id,
        tag=tag,
        client=client,
    ).parsed


async def asyncio_detailed(
    item_id: UUID,
    tag: str,
    *,
    client: AuthenticatedClient,
) -> Response[Problem | TagOut | ValidationProblem]:
    """Put a tag on the item: 201 when added, 200 when the item had it already (a retry is

     safe); 409 `too_many_tags` at the limit (10 per item).

    Args:
        item_id (UUID):
        tag (str): 1-32 lowercase letters, digits and `-`, not starting with `-`

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TagOut | ValidationProblem]
    """

    kwargs = _get_kwargs(
        item_id=item_id,
        tag=tag,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    item_id: UUID,
    tag: str,
    *,
    client: AuthenticatedClient,
) -> Problem | TagOut | ValidationProblem | None:
    """Put a tag on the item: 201 when added, 200 when the item had it already (a retry is

     safe); 409 `too_many_tags` at the limit (10 per item).

    Args:
        item_id (UUID):
        tag (str): 1-32 lowercase letters, digits and `-`, not starting with `-`

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TagOut | ValidationProblem
    """

    return (
        await asyncio_detailed(
            item_id=item_id,
            tag=tag,
            client=client,
        )
    ).parsed
