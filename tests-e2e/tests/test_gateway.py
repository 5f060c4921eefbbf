"""What the gateway itself answers: rate limits, body limits, unknown and private paths, and
the request id it keeps from the client and hands to the services."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from e2e import raw_http
from e2e.api_client import (
    PROBLEM_JSON,
    PROBLEM_KEYS,
    Account,
    ApiClient,
    expect_problem,
    unique_email,
)
from e2e.stack import AUTH_BURST, AUTH_RATE_PER_SECOND, Stack
from e2e.waiting import wait_until

ONE_MIB = 1024 * 1024
FLOOD_CONCURRENCY = 8


def _failed_login(base_url: str) -> requests.Response:
    """A login for an email of its own: identity's per-email throttle never answers it, so a
    429 is the gateway's (per client address)."""
    with ApiClient(base_url) as client:  # one client per thread: sessions are not shared
        return client.login(unique_email(), "not-the-password")


def test_login_flood_is_answered_429_problem_with_retry_after(stack: Stack, api: ApiClient) -> None:
    with ThreadPoolExecutor(FLOOD_CONCURRENCY) as pool:

        def first_429() -> requests.Response | None:
            batch = list(pool.map(lambda _: _failed_login(stack.base_url), range(16)))
            return next((r for r in batch if r.status_code == 429), None)

        limited = wait_until(first_429, timeout=30, interval=0, what="a 429 from a login flood")

    expect_problem(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) >= 1
    # Leave the budget as the flood found it: accepted again, then empty for burst/rate seconds.
    wait_until(
        lambda: api.login(unique_email(), "not-the-password").status_code == 401,
        timeout=30,
        interval=0.5,
        what="the auth rate limit to accept logins again",
    )
    time.sleep(AUTH_BURST / AUTH_RATE_PER_SECOND)


# Spellings of the credential paths other than the canonical one. The gateway counts them all
# against the caller's auth budget (gateway/tests prove that); here, with real services, none of
# them reaches a credential view: each is a 404 problem (or a 429 once the budget is spent).
CREDENTIAL_PATH_SPELLINGS = [
    "/api/v1/auth/login/",
    "/api/v1/auth/login%2F",
    "/api/v1/auth/login/.",
    "/api/v1/auth/login;x=1",
    "/api/v1/auth/login%3B",
    "/api/v1/auth/LOGIN",
    "/api/v1/auth/./login",
    "/api/v1/auth/login%2f..",
    "/x/../api/v1/auth/login/",
    "http://evil.example/api/v1/auth/login/",
    "/api/v1/auth/register/",
    "/api/v1/auth/refresh%2F",
    "/api/v1/users/me/password/",
    "/api/v1/users//me/password",
]


@pytest.mark.parametrize("spelling", CREDENTIAL_PATH_SPELLINGS)
def test_credential_path_spelling_never_reaches_the_view(
    stack: Stack, account: Account, spelling: str
) -> None:
    body = {
        "email": account.email,
        "password": account.password,
        "refresh_token": account.tokens.refresh_token,
        "current_password": account.password,
        "new_password": f"new-{uuid.uuid4().hex}",
    }

    response = raw_http.request(
        stack.base_url,
        "POST",
        spelling,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {account.tokens.access_token}",
        },
        body=json.dumps(body).encode(),
    )

    assert response.status in {404, 429}, (response.status, response.body[:300])
    assert response.content_type == PROBLEM_JSON
    assert response.json()["code"] in {"not_found", "too_many_requests"}


def test_body_larger_than_1_mib_is_answered_413_problem(api: ApiClient, account: Account) -> None:
    body = b'{"name": "' + b"x" * ONE_MIB + b'"}'

    response = api.request(
        "POST",
        "/api/v1/items",
        token=account.tokens.access_token,
        data=body,
        headers={"Content-Type": "application/json"},
    )

    expect_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/no/such/page", "/api/v2/items", "/api/v1/nothing-here"])
def test_unknown_path_is_answered_404_problem(api: ApiClient, path: str) -> None:
    response = api.request("GET", path)

    body = expect_problem(response, 404, "not_found")
    assert body["instance"] == path


@pytest.mark.parametrize(
    "path", ["/metrics", "/docs/identity/metrics", "/docs/items/metrics", "/health/ready"]
)
def test_service_internals_are_not_reachable_through_the_gateway(api: ApiClient, path: str) -> None:
    response = api.request("GET", path)

    expect_problem(response, 404, "not_found")
    assert "http_requests_total" not in response.text


ROUTES = [
    "/api/v1/auth/sessions",
    "/api/v1/users/me",
    "/api/v1/items",
    "/.well-known/jwks.json",
    "/docs/identity",
    "/docs/items",
    "/health",
    "/no/such/path",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PROPFIND"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_every_route_is_answered_without_a_5xx_and_errors_as_problems(
    stack: Stack, method: str, path: str
) -> None:
    response = raw_http.request(stack.base_url, method, path)

    assert response.status < 500, (response.status, response.body[:300])
    if response.status >= 400:
        assert response.content_type == PROBLEM_JSON, (response.status, response.content_type)
    if response.status >= 400 and method != "HEAD":
        problem = response.json()
        assert problem.keys() >= PROBLEM_KEYS, problem
        assert problem["status"] == response.status
    if response.status == 405:
        allowed = {name.strip() for name in response.headers.get("Allow", "").split(",")}
        assert allowed - {""}, "a 405 names the methods that are allowed"
        assert method not in allowed


def _service_lines(logs: str, request_id: str) -> list[dict[str, object]]:
    """The service's (not the gateway's) JSON log lines that carry `request_id`."""
    lines = []
    for line in logs.splitlines():
        if request_id not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("logger") != "gateway":
            lines.append(record)
    return lines


@pytest.mark.parametrize(
    ("service", "path"), [("identity", "/api/v1/users/me"), ("items", "/api/v1/items")]
)
def test_request_id_from_the_client_is_echoed_and_logged_by_the_service(
    stack: Stack, api: ApiClient, account: Account, service: str, path: str
) -> None:
    request_id = f"e2e-{uuid.uuid4().hex}"

    response = api.request(
        "GET", path, token=account.tokens.access_token, headers={"X-Request-ID": request_id}
    )

    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == request_id
    lines = wait_until(
        lambda: _service_lines(stack.service_logs(service), request_id),
        timeout=15,
        interval=0.5,
        what=f"{service}'s log mentioning request id {request_id}",
    )
    assert all(line["request_id"] == request_id for line in lines), lines


@pytest.mark.parametrize(
    ("service", "path"), [("identity", "/api/v1/users/me"), ("items", "/api/v1/items")]
)
def test_authenticated_response_is_no_store_through_the_gateway(
    api: ApiClient, account: Account, service: str, path: str
) -> None:
    response = api.request("GET", path, token=account.tokens.access_token)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_token_response_is_no_store_through_the_gateway(api: ApiClient, account: Account) -> None:
    response = api.login(account.email, account.password)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_api_response_has_the_restrictive_content_security_policy(api: ApiClient) -> None:
    response = api.jwks()

    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["Cache-Control"].startswith("public, max-age=")
