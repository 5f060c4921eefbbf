from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.item_page import ItemPage
from ...models.item_status import ItemStatus
from ...models.list_items_sort import ListItemsSort
from ...models.problem import Problem
from ...models.validation_problem import ValidationProblem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: ItemStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: ListItemsSort | Unset = ListItemsSort.VALUE_0,
    owner: UUID | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["q"] = q

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    json_owner: str | Unset = UNSET
    if not isinstance(owner, Unset):
        json_owner = str(owner)
    params["owner"] = json_owner

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/items",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ItemPage | Problem | ValidationProblem | None:
    if response.status_code == 200:
        response_200 = ItemPage.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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
) -> Response[ItemPage | Problem | ValidationProblem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: ItemStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: ListItemsSort | Unset = ListItemsSort.VALUE_0,
    owner: UUID | Unset = UNSET,
) -> Response[ItemPage | Problem | ValidationProblem]:
    """A page of items, newest first by default; filter by `status` and `q` (name contains).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        status (ItemStatus | Unset): An item's stage: `draft` (the default), `active` or
            `archived`.
        q (str | Unset):
        sort (ListItemsSort | Unset):  Default: ListItemsSort.VALUE_0.
        owner (UUID | Unset): Admins only: one owner's items

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ItemPage | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        status=status,
        q=q,
        sort=sort,
        owner=owner,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: ItemStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: ListItemsSort | Unset = ListItemsSort.VALUE_0,
    owner: UUID | Unset = UNSET,
) -> ItemPage | Problem | ValidationProblem | None:
    """A page of items, newest first by default; filter by `status` and `q` (name contains).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        status (ItemStatus | Unset): An item's stage: `draft` (the default), `active` or
            `archived`.
        q (str | Unset):
        sort (ListItemsSort | Unset):  Default: ListItemsSort.VALUE_0.
        owner (UUID | Unset): Admins only: one owner's items

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ItemPage | Problem | ValidationProblem
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        status=status,
        q=q,
        sort=sort,
        owner=owner,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: ItemStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: ListItemsSort | Unset = ListItemsSort.VALUE_0,
    owner: UUID | Unset = UNSET,
) -> Response[ItemPage | Problem | ValidationProblem]:
    """A page of items, newest first by default; filter by `status` and `q` (name contains).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        status (ItemStatus | Unset): An item's stage: `draft` (the default), `active` or
            `archived`.
        q (str | Unset):
        sort (ListItemsSort | Unset):  Default: ListItemsSort.VALUE_0.
        owner (UUID | Unset): Admins only: one owner's items

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ItemPage | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        status=status,
        q=q,
        sort=sort,
        owner=owner,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: ItemStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: ListItemsSort | Unset = ListItemsSort.VALUE_0,
    owner: UUID | Unset = UNSET,
) -> ItemPage | Problem | ValidationProblem | None:
    """A page of items, newest first by default; filter by `status` and `q` (name contains).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        status (ItemStatus | Unset): An item's stage: `draft` (the default), `active` or
            `archived`.
        q (str | Unset):
        sort (ListItemsSort | Unset):  Default: ListItemsSort.VALUE_0.
        owner (UUID | Unset): Admins only: one owner's items

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ItemPage | Problem | ValidationProblem
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            status=status,
            q=q,
            sort=sort,
            owner=owner,
        )
    ).parsed
