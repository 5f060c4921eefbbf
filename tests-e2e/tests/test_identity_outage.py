"""identity-service down: items keeps verifying tokens with its cached keys (in every worker,
including the keys of a rotation just before the outage), identity's routes answer the
gateway's problem, and everything works again once identity is back."""

import time
from collections.abc import Iterator

import pytest
from e2e.api_client import Account, ApiClient, expect_problem
from e2e.keys import rotate, token_of_key
from e2e.stack import IDENTITY, ITEMS_WORKERS, KEY_CACHE_SECONDS, Stack
from e2e.waiting import wait_until
from e2e.workers import ask_every_worker, workers_that_logged

pytestmark = pytest.mark.disruptive

KEYS_RELOADED = "signing keys reloaded after a key change"
RELOAD_SECONDS = 15


@pytest.fixture
def identity_down(stack: Stack, api: ApiClient, account: Account) -> Iterator[Account]:
    """`account`, whose token items has already verified; then identity is stopped. Identity
    runs again after the test, whatever the test did (starting a running identity is a no-op)."""
    assert api.list_items(account.tokens.access_token).status_code == 200  # keys now cached
    stack.stop(IDENTITY)
    yield account
    stack.start(IDENTITY)


@pytest.fixture
def rotated_then_identity_down(stack: Stack, api: ApiClient, account: Account) -> Iterator[str]:
    """A token of a key rotated just now, which no items request has carried yet; identity is
    stopped once every items worker has reloaded its keys on the rotation's event (their log
    says so), and runs again after the test. Yields the token."""
    seen_before = len(stack.service_logs("items"))
    token = token_of_key(api, account, rotate(stack))
    wait_until(
        lambda: (
            len(workers_that_logged(stack.service_logs("items"), KEYS_RELOADED, after=seen_before))
            >= ITEMS_WORKERS
        ),
        timeout=RELOAD_SECONDS,
        interval=0.2,
        what="every items worker reloading its keys after the rotation",
    )
    stack.stop(IDENTITY)
    yield token
    stack.start(IDENTITY)


def test_every_items_worker_keeps_accepting_tokens_of_a_key_rotated_just_before_identity_went_down(
    stack: Stack, api: ApiClient, rotated_then_identity_down: str
) -> None:
    token = rotated_then_identity_down
    time.sleep(KEY_CACHE_SECONDS + 1)  # every worker's JWKS cache has expired: refetches fail

    created = api.create_item(token, name="made during the outage")
    answers = ask_every_worker(stack, path="/api/v1/items", token=token)

    assert created.status_code == 201, created.text
    assert answers.statuses == {200}, answers.by_worker
    listed = answers.responses[-1].json()["data"]
    assert [item["name"] for item in listed] == ["made during the outage"]


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

    stack.start(IDENTITY)

    tokens = api.login_ok(account.email, account.password)
    assert api.me(tokens.access_token).status_code == 200
    assert api.create_item(tokens.access_token, name="after the outage").status_code == 201
