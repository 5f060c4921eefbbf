"""The generated client (clients/identity-client) against the real app, in process: its typed
calls and models fit what identity answers."""

import httpx
import pytest
from flask_openapi3.openapi import OpenAPI
from identity_client import AuthenticatedClient, Client
from identity_client.api.auth import login, refresh, register
from identity_client.api.users import get_me
from identity_client.models import (
    LoginRequest,
    Problem,
    RefreshTokenRequest,
    TokenPairOut,
    UserCreate,
    UserOut,
)

from tests.factories import unique_email

pytestmark = pytest.mark.postgres
PASSWORD = "a long enough password"


def test_register_login_refresh_and_read_through_the_generated_client(app: OpenAPI) -> None:
    transport = httpx.WSGITransport(app=app)
    anonymous = Client("http://identity.test", httpx_args={"transport": transport})
    email = unique_email()

    created = register.sync(client=anonymous, body=UserCreate(email=email, password=PASSWORD))
    pair = login.sync(client=anonymous, body=LoginRequest(email=email, password=PASSWORD))
    assert isinstance(pair, TokenPairOut)
    renewed = refresh.sync(
        client=anonymous, body=RefreshTokenRequest(refresh_token=pair.refresh_token)
    )
    assert isinstance(renewed, TokenPairOut)
    caller = AuthenticatedClient(
        "http://identity.test", token=renewed.access_token, httpx_args={"transport": transport}
    )
    me = get_me.sync(client=caller)

    assert isinstance(created, UserOut)
    assert isinstance(me, UserOut)
    assert (me.id, me.email) == (created.id, email)


def test_an_error_is_the_problem_model_with_its_code(app: OpenAPI) -> None:
    client = Client("http://identity.test", httpx_args={"transport": httpx.WSGITransport(app=app)})

    answer = login.sync(
        client=client, body=LoginRequest(email=unique_email(), password="not the password")
    )

    assert isinstance(answer, Problem)
    assert (answer.status, answer.code) == (401, "invalid_credentials")
