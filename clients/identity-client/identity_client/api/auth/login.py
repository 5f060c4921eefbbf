from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.login_request import LoginRequest
from ...models.mfa_required_out import MfaRequiredOut
from ...models.problem import Problem
from ...models.token_pair_out import TokenPairOut
from ...models.validation_problem import ValidationProblem
from ...types import Response


def _get_kwargs(
    *,
    body: LoginRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/auth/login",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> MfaRequiredOut | TokenPairOut | Problem | ValidationProblem | None:
    if response.status_code == 200:

        def _parse_response_200(data: object) -> MfaRequiredOut | TokenPairOut:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_login_out_type_0 = TokenPairOut.from_dict(data)

                return componentsschemas_login_out_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_login_out_type_1 = MfaRequiredOut.from_dict(data)

            return componentsschemas_login_out_type_1

        response_200 = _parse_response_200(response.json())

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

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[MfaRequiredOut | TokenPairOut | Problem | ValidationProblem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> Response[MfaRequiredOut | TokenPairOut | Problem | ValidationProblem]:
    """Exchange email and password for an access token and a refresh token; with two-factor

     login on, for `{mfa_required: true, mfa_token, expires_in}` instead (then `/mfa/verify`).

    Args:
        body (LoginRequest): An account's email and password.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MfaRequiredOut | TokenPairOut | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> MfaRequiredOut | TokenPairOut | Problem | ValidationProblem | None:
    """Exchange email and password for an access token and a refresh token; with two-factor

     login on, for `{mfa_required: true, mfa_token, expires_in}` instead (then `/mfa/verify`).

    Args:
        body (LoginRequest): An account's email and password.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MfaRequiredOut | TokenPairOut | Problem | ValidationProblem
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> Response[MfaRequiredOut | TokenPairOut | Problem | ValidationProblem]:
    """Exchange email and password for an access token and a refresh token; with two-factor

     login on, for `{mfa_required: true, mfa_token, expires_in}` instead (then `/mfa/verify`).

    Args:
        body (LoginRequest): An account's email and password.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[MfaRequiredOut | TokenPairOut | Problem | ValidationProblem]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: LoginRequest,
) -> MfaRequiredOut | TokenPairOut | Problem | ValidationProblem | None:
    """Exchange email and password for an access token and a refresh token; with two-factor

     login on, for `{mfa_required: true, mfa_token, expires_in}` instead (then `/mfa/verify`).

    Args:
        body (LoginRequest): An account's email and password.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        MfaRequiredOut | TokenPairOut | Problem | ValidationProblem
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
