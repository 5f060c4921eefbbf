"""identity-service down: items keeps verifying tokens with its cached keys, identity's routes
answer the gateway's problem, and everything works again once identity is back."""

import time
from collections.abc import Iterator

import pytest
from e2e.api_client import Account, ApiClient, expect_problem
from e2e.stack import KEY_CACHE_SECONDS, Stack

pytestmark = pytest.mark.disruptive


@pytest.fixture
def identity_down(stack: Stack, api: ApiClient, account: Account) -> Iterator[Account]:
    """`account`, whose token items has already verified; then identity is stopped. Identity
    runs again after the test, whatever the test did (starting a running identity is a no-op)."""
    assert api.list_items(account.tokens.access_token).status_code == 200  # keys now cached
    stack.stop_identity()
    yield account
    stack.start_identity()


def test_items_keep_accepting_valid_tokens_while_identity_is_down(
    api: ApiClient, identity_down: Account
) -> None:
    token = identity_down.tokens.access_token
    time.sleep(KEY_CACHE_SECONDS + 1)  # items' JWKS cache has expired: the refetch fails

    created = api.create_item(token, name="made during the outage")
    listed = api.list_items(token)

    assert created.status_code == 201, created.text
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["data"]] == ["made during the outage"]


def test_identity_routes_answer_a_502_or_503_problem_while_identity_is_down(
    api: ApiClient, identity_down: Account
) -> None:
    account = identity_down

    responses = [
        api.login(account.email, account.password),
        api.me(account.tokens.access_token),
        api.jwks(),
    ]

    for response in responses:
        assert response.status_code in (502, 503), (response.url, response.status_code)
        expect_problem(response, response.status_code)


def test_identity_and_items_work_again_once_identity_is_back(
    stack: Stack, api: ApiClient, identity_down: Account
) -> None:
    account = identity_down

    stack.start_identity()

    tokens = api.login_ok(account.email, account.password)
    assert api.me(tokens.access_token).status_code == 200
    assert api.create_item(tokens.access_token, name="after the outage").status_code == 201
