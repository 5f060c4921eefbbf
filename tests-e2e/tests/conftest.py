"""One stack per test run (`STACK=native|compose`, default native); a fresh API client per test.

Missing prerequisites skip the native run with a reason locally and fail it in CI (`CI` set, or
`REQUIRE_POSTGRES=1` / `REQUIRE_NGINX=1` as `.ci/run` sets). Without RabbitMQ the native stack
runs its events on the embedded transport, unless `REQUIRE_RABBITMQ=1` (or CI) makes that a
failure. `STACK=compose` was asked for explicitly, so a missing Docker engine always fails it.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from e2e.api_client import Account, ApiClient, unique_email
from e2e.stack import MODES, Stack, StackUnavailableError, running_stack
from e2e.typed_clients import TypedClients, expect
from identity_client.api.auth import login
from identity_client.models import LoginRequest, TokenPairOut

from service_kit_testing.postgres import REQUIRE_POSTGRES_ENV, PostgresUnavailableError
from service_kit_testing.rabbitmq import REQUIRE_RABBITMQ_ENV, RabbitMQUnavailableError
from service_kit_testing.required import skip_unless_required


def stack_mode() -> str:
    mode = os.environ.get("STACK", "native")
    if mode not in MODES:
        raise pytest.UsageError(f"STACK={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def pytest_report_header() -> str:
    return f"e2e stack: {stack_mode()}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "disruptive: stops part of the shared stack; runs after every other test"
    )
    config.addinivalue_line(
        "markers",
        "modes(*modes): runs only when STACK is one of `modes`; deselected (not skipped) in "
        "the others, so a run reports it as not selected rather than as a missing prerequisite",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of other modes out; disruptive tests last: a stack one of them leaves broken fails
    only what comes after."""
    mode = stack_mode()
    deselected = [
        item
        for item in items
        if (marker := item.get_closest_marker("modes")) is not None and mode not in marker.args
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def _unavailable(mode: str, reason: str, *, variable: str) -> None:
    message = f"STACK={mode}: {reason}"
    if mode == "compose":  # asked for explicitly: never skipped
        pytest.fail(message, pytrace=False)
    skip_unless_required(message, variable=variable)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    mode = stack_mode()
    with ExitStack() as cleanup:
        try:
            running = cleanup.enter_context(
                running_stack(mode, tmp_path_factory.mktemp(f"stack-{mode}"))
            )
        except PostgresUnavailableError as exc:
            _unavailable(mode, str(exc), variable=REQUIRE_POSTGRES_ENV)
        except RabbitMQUnavailableError as exc:
            _unavailable(mode, str(exc), variable=REQUIRE_RABBITMQ_ENV)
        except StackUnavailableError as exc:
            _unavailable(mode, str(exc), variable="REQUIRE_NGINX")
        yield running


@pytest.fixture
def api(stack: Stack) -> Iterator[ApiClient]:
    with ApiClient(stack.base_url) as client:
        yield client


@pytest.fixture
def typed(stack: Stack) -> Iterator[TypedClients]:
    """The generated typed clients on the gateway (closed after the test)."""
    with TypedClients(stack.base_url) as clients:
        yield clients


@pytest.fixture
def account(api: ApiClient) -> Account:
    """A user of its own, registered and logged in."""
    return api.new_account()


@pytest.fixture(scope="module")
def admin_credentials(stack: Stack) -> tuple[str, str]:
    """An administrator of the stack, made with the identity CLI once per module: (email,
    password). Not once per session: the fuzzing's own admin may delete, deactivate or demote
    any user it finds in `GET /users`, this one too, and the modules after it need theirs."""
    email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
    stack.identity_cli("create-user", "--email", email, "--password", password, "--role", "admin")
    return email, password


@pytest.fixture
def admin_token(typed: TypedClients, admin_credentials: tuple[str, str]) -> str:
    """A fresh access token of the administrator (a drill may have retired an older key)."""
    email, password = admin_credentials
    answer = login.sync(client=typed.identity, body=LoginRequest(email=email, password=password))
    return expect(answer, TokenPairOut).access_token
