"""The generated typed clients (clients/identity-client, clients/items-client) against the
stack's gateway, as a client developer uses them; every client opened is closed with this."""

import json
import ssl
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from identity_client import AuthenticatedClient as IdentityCaller
from identity_client import Client as IdentityClient
from identity_client.api.auth import login, register
from identity_client.models import LoginRequest, TokenPairOut, UserCreate, UserOut
from identity_client.models import Problem as IdentityProblem
from identity_client.types import Response as IdentityResponse
from items_client import AuthenticatedClient as ItemsCaller
from items_client.models import Problem as ItemsProblem
from items_client.types import Response as ItemsResponse

from e2e.api_client import PROBLEM_JSON, unique_email

T = TypeVar("T")
C = TypeVar("C", IdentityClient, IdentityCaller, ItemsCaller)

_TLS = ssl.create_default_context()
"""One TLS context for every client: httpx builds one per client otherwise, loading the CA bundle
each time (some 20 ms), which the drills' hundreds of short-lived clients would pay."""


def expect(answer: object, kind: type[T]) -> T:
    """`answer` as the model it should be (a `Problem` or None otherwise fails the test)."""
    assert isinstance(answer, kind), answer
    return answer


def problem(answer: object) -> tuple[int, str]:
    """`answer`'s status and stable `code`: it must be a problem+json body (either client's
    `Problem`), not a success."""
    assert isinstance(answer, IdentityProblem | ItemsProblem), answer
    return answer.status, answer.code


def problem_response(response: IdentityResponse[Any] | ItemsResponse[Any]) -> tuple[int, str]:
    """`problem` of a whole answer (`sync_detailed`), which also checks its Content-Type
    (`application/problem+json`) and that the body's `status` is the answer's. A status the
    operation's document does not declare (the gateway's 502, from clients that return it
    instead of raising) comes unparsed: its body is read as a `Problem` here."""
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers
    answer = response.parsed
    if answer is None:
        answer = IdentityProblem.from_dict(json.loads(response.content))
    status, code = problem(answer)
    assert status == response.status_code, (response.status_code, answer)
    return status, code


@dataclass(frozen=True, slots=True)
class TypedAccount:
    """A registered user, logged in once."""

    email: str
    password: str
    user: UserOut
    tokens: TokenPairOut


class TypedClients:
    """Opens the generated clients on the gateway's base URL; a status an operation's document
    does not declare raises (`UnexpectedStatus`) instead of passing as None, unless
    `raise_on_unexpected_status` is False (for answers the gateway gives on its own, as a 502
    while a service is down)."""

    def __init__(self, base_url: str, *, raise_on_unexpected_status: bool = True) -> None:
        self.base_url = base_url
        self._strict = raise_on_unexpected_status
        self._opened = ExitStack()
        self.identity = self._open(
            IdentityClient(base_url, raise_on_unexpected_status=self._strict, verify_ssl=_TLS)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._opened.close()

    def identity_as(self, token: str) -> IdentityCaller:
        return self._open(
            IdentityCaller(
                self.base_url,
                token=token,
                raise_on_unexpected_status=self._strict,
                verify_ssl=_TLS,
            )
        )

    def items_as(self, token: str) -> ItemsCaller:
        return self._open(
            ItemsCaller(
                self.base_url,
                token=token,
                raise_on_unexpected_status=self._strict,
                verify_ssl=_TLS,
            )
        )

    def new_account(self) -> TypedAccount:
        """Register a user with a unique email and log in."""
        email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
        user = expect(
            register.sync(client=self.identity, body=UserCreate(email=email, password=password)),
            UserOut,
        )
        tokens = expect(
            login.sync(client=self.identity, body=LoginRequest(email=email, password=password)),
            TokenPairOut,
        )
        return TypedAccount(email, password, user, tokens)

    def _open(self, client: C) -> C:
        return self._opened.enter_context(client)
