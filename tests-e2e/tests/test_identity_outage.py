"""identity-service down: items keeps verifying tokens with its cached keys (in every worker,
including the keys of a rotation just before the outage), identity's routes answer the
gateway's problem, and everything works again once identity is back."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e.keys import rotate, token_of_key
from e2e.stack import IDENTITY, ITEMS_WORKERS, KEY_CACHE_SECONDS, Stack
from e2e.typed_clients import TypedAccount, TypedClients, expect, problem_response
from e2e.waiting import wait_until
from e2e.workers import ask_every_worker, workers_that_logged
from identity_client.api.auth import login
from identity_client.api.discovery import jwks
from identity_client.api.users import get_me
from identity_client.models import LoginRequest, TokenPairOut, UserOut
from identity_client.types import Response
from items_client.api.items import create_item, list_items
from items_client.models import ItemCreate, ItemPage

pytestmark = pytest.mark.disruptive

KEYS_RELOADED = "signing keys reloaded after a key change"
RELOAD_SECONDS = 15


@pytest.fixture
def identity_down(stack: Stack, typed: TypedClients) -> Iterator[TypedAccount]:
    """A new account, whose token items has already verified; then identity is stopped. Identity
    runs again after the test, whatever the test did (starting a running identity is a no-op)."""
    account = typed.new_account()
    items = typed.items_as(account.tokens.access_token)
    expect(list_items.sync(client=items), ItemPage)  # keys now cached
    stack.stop(IDENTITY)
    yield account
    stack.start(IDENTITY)


@pytest.fixture
def rotated_then_identity_down(stack: Stack, typed: TypedClients) -> Iterator[str]:
    """A token of a key rotated just now, which no items request has carried yet; identity is
    stopped once every items worker has reloaded its keys on the rotation's event (their log
    says so), and runs again after the test. Yields the token."""
    account = typed.new_account()
    seen_before = len(stack.service_logs("items"))
    token = token_of_key(typed, account, rotate(stack))
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
    stack: Stack, typed: TypedClients, rotated_then_identity_down: str
) -> None:
    token = rotated_then_identity_down
    time.sleep(KEY_CACHE_SECONDS + 1)  # every worker's JWKS cache has expired: refetches fail

    created = create_item.sync_detailed(
        client=typed.items_as(token), body=ItemCreate(name="made during the outage")
    )
    # Raw HTTP (`ask_every_worker`): each request carries an `X-Request-ID` of its own, to find
    # in items' log which worker answered it, until every worker has.
    answers = ask_every_worker(stack, path="/api/v1/items", token=token)

    assert created.status_code == 201, created.content
    assert answers.statuses == {200}, answers.by_worker
    listed = ItemPage.from_dict(answers.responses[-1].json()).data
    assert [item.name for item in listed] == ["made during the outage"]


def test_identity_routes_answer_a_502_or_503_problem_while_identity_is_down(
    stack: Stack, identity_down: TypedAccount
) -> None:
    account = identity_down
    # The gateway answers for the service it cannot reach, with 502 too, which no operation of
    # identity's document declares: clients that return such a status instead of raising it.
    with TypedClients(stack.base_url, raise_on_unexpected_status=False) as lenient:
        credentials = LoginRequest(email=account.email, password=account.password)
        answers: dict[str, Response[Any]] = {
            "login": login.sync_detailed(client=lenient.identity, body=credentials),
            "me": get_me.sync_detailed(client=lenient.identity_as(account.tokens.access_token)),
            "jwks": jwks.sync_detailed(client=lenient.identity),
        }

    for route, answer in answers.items():
        assert answer.status_code in (502, 503), (route, answer.status_code)
        problem_response(answer)  # a problem whose `status` is the answer's


def test_identity_and_items_work_again_once_identity_is_back(
    stack: Stack, typed: TypedClients, identity_down: TypedAccount
) -> None:
    account = identity_down

    stack.start(IDENTITY)

    credentials = LoginRequest(email=account.email, password=account.password)
    tokens = expect(login.sync(client=typed.identity, body=credentials), TokenPairOut)
    expect(get_me.sync(client=typed.identity_as(tokens.access_token)), UserOut)
    created = create_item.sync_detailed(
        client=typed.items_as(tokens.access_token), body=ItemCreate(name="after the outage")
    )
    assert created.status_code == 201, created.content
