from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.audit_event_page import AuditEventPage
from ...models.audit_event_type import AuditEventType
from ...models.problem import Problem
from ...models.validation_problem import ValidationProblem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    type_: AuditEventType | Unset = UNSET,
    user: UUID | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_type_: str | Unset = UNSET
    if not isinstance(type_, Unset):
        json_type_ = type_.value

    params["type"] = json_type_

    json_user: str | Unset = UNSET
    if not isinstance(user, Unset):
        json_user = str(user)
    params["user"] = json_user

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/audit-events",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AuditEventPage | Problem | ValidationProblem | None:
    if response.status_code == 200:
        response_200 = AuditEventPage.from_dict(response.json())

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
) -> Response[AuditEventPage | Problem | ValidationProblem]:
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
    type_: AuditEventType | Unset = UNSET,
    user: UUID | Unset = UNSET,
) -> Response[AuditEventPage | Problem | ValidationProblem]:
    """Admins: security events newest first, filtered by `type` and by `user` (the subject).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        type_ (AuditEventType | Unset): What happened to an account (the audit log's event kinds).
        user (UUID | Unset): Events about this user

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditEventPage | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        type_=type_,
        user=user,
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
    type_: AuditEventType | Unset = UNSET,
    user: UUID | Unset = UNSET,
) -> AuditEventPage | Problem | ValidationProblem | None:
    """Admins: security events newest first, filtered by `type` and by `user` (the subject).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        type_ (AuditEventType | Unset): What happened to an account (the audit log's event kinds).
        user (UUID | Unset): Events about this user

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditEventPage | Problem | ValidationProblem
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        type_=type_,
        user=user,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    type_: AuditEventType | Unset = UNSET,
    user: UUID | Unset = UNSET,
) -> Response[AuditEventPage | Problem | ValidationProblem]:
    """Admins: security events newest first, filtered by `type` and by `user` (the subject).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        type_ (AuditEventType | Unset): What happened to an account (the audit log's event kinds).
        user (UUID | Unset): Events about this user

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AuditEventPage | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        type_=type_,
        user=user,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    type_: AuditEventType | Unset = UNSET,
    user: UUID | Unset = UNSET,
) -> AuditEventPage | Problem | ValidationProblem | None:
    """Admins: security events newest first, filtered by `type` and by `user` (the subject).

    Args:
        limit (int | Unset): Page size, 1-100 Default: 20.
        cursor (str | Unset): A `next_cursor` this listing returned, as it was; any other value,
            even of the same form, is 422 `invalid_cursor`
        type_ (AuditEventType | Unset): What happened to an account (the audit log's event kinds).
        user (UUID | Unset): Events about this user

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AuditEventPage | Problem | ValidationProblem
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            type_=type_,
            user=user,
        )
    ).parsed
