"""Both services' OpenAPI documents hold for the real stack, through the gateway.

- `test_every_operation_conforms_to_its_openapi_document_through_the_gateway`: Schemathesis
  (every phase, the stateful one included, and every built-in check) on each document the
  gateway serves, as real users (e2e.fuzzing says how, and which few failures it tolerates and
  why). No 5xx, no undocumented status, content type or header, no body that breaks its schema,
  no schema-valid request rejected or invalid one accepted, auth enforced, and no resource
  missing after its creation or present after its deletion.
- The answers the gateway makes itself, which no service test sees, are checked against the
  same documents: 429 on the rate-limited credential operations and 413 on every operation;
  and 503 `overloaded` (from the gateway's or identity's password bulkhead, whichever refuses
  first) on login, register and password change.

Rate limits (the choice): the fuzz runs get no budget of their own, neither a client address
of their own (compose mode cannot give one: every client reaches the gateway from Docker's
proxy) nor a stack setting (it would also lift the limit that the gateway tests flood). They
keep within the e2e stack's budget as a well-behaved client does, pacing their requests to the
rate-limited operations below its rate, so a run meets no 429 and stays reproducible. 429
is still a declared, schema-valid answer of those operations: a run that meets one validates it
and waits `Retry-After`, and `test_gateway_429_conforms_...` checks the gateway's real 429 on
each of them. Each test that spends the budget waits for it to refill before the next test logs
anyone in.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import schemathesis
from e2e.api_client import Account, ApiClient, unique_email
from e2e.fuzzing import fuzz
from e2e.stack import AUTH_BURST, AUTH_RATE_PER_SECOND, Stack
from e2e.waiting import wait_until
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service_kit_testing.schemathesis import problem_code_documented

FUZZ_TIMEOUT_SECONDS = 900
ONE_MIB = 1024 * 1024
FLOOD_CONCURRENCY = 8
CONFORMANCE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    problem_code_documented,
]
# Bodies that fail validation: the gateway counts them all the same, and the ones it lets
# through cost the services no password hash and create nothing.
RATE_LIMITED_OPERATIONS = [
    pytest.param("/api/v1/auth/login", {"email": ""}, id="login"),
    pytest.param("/api/v1/auth/register", {"email": ""}, id="register"),
    pytest.param("/api/v1/auth/refresh", {"refresh_token": ""}, id="refresh"),
    pytest.param("/api/v1/users/me/password", {"current_password": ""}, id="password-change"),
    pytest.param("/api/v1/auth/verify-email", {"token": ""}, id="verify-email"),
    pytest.param("/api/v1/auth/verify-email/resend", {"email": ""}, id="verify-email-resend"),
    pytest.param("/api/v1/auth/password-reset", {"email": ""}, id="password-reset"),
    pytest.param("/api/v1/auth/password-reset/confirm", {"token": ""}, id="password-reset-confirm"),
    pytest.param("/api/v1/auth/mfa/verify", {"mfa_token": ""}, id="mfa-verify"),
]


def _document(stack: Stack, service: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(
        f"{stack.base_url}/docs/{service}/openapi.json",
        config=schemathesis.Config.from_dict({"base-url": stack.base_url}),
    )


@pytest.fixture
def auth_budget_refilled() -> Iterator[None]:
    """After the test, the gateway's per-address credential budget is full again."""
    yield
    time.sleep(AUTH_BURST / AUTH_RATE_PER_SECOND + 1)


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
@pytest.mark.usefixtures("auth_budget_refilled")
@pytest.mark.parametrize("service", ["identity", "items"])
def test_every_operation_conforms_to_its_openapi_document_through_the_gateway(
    stack: Stack, service: str
) -> None:
    report = fuzz(stack, service)

    print(report.describe())  # the run's figures, in the captured output
    assert not report.problems, report.describe()
    assert {"coverage", "fuzzing", "stateful"} <= {
        phase for phase, cases in report.cases_by_phase.items() if cases > 0
    }, report.describe()
    assert report.stateful_links > 0, report.describe()


@pytest.mark.parametrize("service", ["identity", "items"])
def test_gateway_413_conforms_to_the_document_of_every_operation(
    stack: Stack, api: ApiClient, account: Account, service: str
) -> None:
    schema = _document(stack, service)
    oversized = json.dumps({"name": "x" * ONE_MIB}).encode()
    checked = []

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of our documents loads
        operation = result.ok()
        case = operation.Case(
            path_parameters={p.name: str(uuid.uuid4()) for p in operation.path_parameters}
        )
        response = api.request(
            operation.method.upper(),
            case.formatted_path,
            token=account.tokens.access_token,
            data=oversized,
            headers={"Content-Type": "application/json"},
        )

        assert response.status_code == 413, (operation.label, response.status_code)
        case.validate_response(response, checks=CONFORMANCE_CHECKS)
        checked.append(operation.label)

    assert checked


def _first_answer(
    stack: Stack, path: str, body: Callable[[], dict[str, str]], token: str, status: int
) -> requests.Response:
    """Send the request from several threads at once until the gateway answers one with
    `status`; `body` makes each request's body."""

    def send(_: int) -> requests.Response:
        with ApiClient(stack.base_url) as client:  # one client per thread: no shared session
            return client.request("POST", path, token=token, json=body())

    with ThreadPoolExecutor(FLOOD_CONCURRENCY) as pool:
        return wait_until(
            lambda: next((r for r in pool.map(send, range(16)) if r.status_code == status), None),
            timeout=30,
            interval=0,
            what=f"a {status} from a flood of POST {path}",
        )


@pytest.mark.usefixtures("auth_budget_refilled")
@pytest.mark.parametrize(("path", "body"), RATE_LIMITED_OPERATIONS)
def test_gateway_429_conforms_to_the_document_of_each_rate_limited_operation(
    stack: Stack, account: Account, path: str, body: dict[str, str]
) -> None:
    case = _document(stack, "identity")[path]["POST"].Case(body={**body})

    response = _first_answer(stack, path, lambda: body, account.tokens.access_token, 429)

    case.validate_response(response, checks=CONFORMANCE_CHECKS)


# Well-formed bodies, so that each request hashes a password: more at once than the password
# bulkheads take (the gateway's, and identity's per process) are answered 503 `overloaded`.
PASSWORD_OPERATIONS = [
    pytest.param(
        "/api/v1/auth/login",
        lambda: {"email": unique_email(), "password": "not-the-password"},
        id="login",
    ),
    pytest.param(
        "/api/v1/auth/register",
        lambda: {"email": unique_email(), "password": "a-new-password"},
        id="register",
    ),
    pytest.param(
        "/api/v1/users/me/password",
        lambda: {"current_password": "not-the-password", "new_password": "a-new-password"},
        id="password-change",
    ),
]


@pytest.mark.usefixtures("auth_budget_refilled")
@pytest.mark.parametrize(("path", "body"), PASSWORD_OPERATIONS)
def test_overloaded_503_conforms_to_the_document_of_each_password_operation(
    stack: Stack, account: Account, path: str, body: Callable[[], dict[str, str]]
) -> None:
    case = _document(stack, "identity")[path]["POST"].Case(body={**body()})

    response = _first_answer(stack, path, body, account.tokens.access_token, 503)

    assert response.json()["code"] == "overloaded", response.text
    case.validate_response(response, checks=CONFORMANCE_CHECKS)
