"""The key-rotation runbook, drilled with the identity CLI inside the running stack.

The stack's key caches are 1-2 s (e2e.stack.DRILL_SETTINGS), so what takes the production
15 + 5 minutes takes seconds here; every wait for a cache is bounded.
"""

import time

from e2e.api_client import token_header
from e2e.keys import CACHE_DEADLINE_SECONDS, rotate, token_of_key
from e2e.stack import KEY_CACHE_SECONDS, Stack
from e2e.typed_clients import TypedClients, expect, problem_response
from e2e.waiting import wait_until
from identity_client.api.users import get_me
from identity_client.models import UserOut
from items_client.api.items import list_items
from items_client.models import ItemPage


def test_access_tokens_signed_before_a_key_rotation_keep_working(
    stack: Stack, typed: TypedClients
) -> None:
    token = typed.new_account().tokens.access_token

    rotate(stack)
    time.sleep(KEY_CACHE_SECONDS + 1)  # every cache has reloaded the keys since

    expect(list_items.sync(client=typed.items_as(token)), ItemPage)
    expect(get_me.sync(client=typed.identity_as(token)), UserOut)


def test_access_tokens_issued_after_a_key_rotation_carry_the_new_kid_and_work(
    stack: Stack, typed: TypedClients
) -> None:
    account = typed.new_account()
    old_kid = token_header(account.tokens.access_token)["kid"]

    new_kid = rotate(stack)

    assert new_kid != old_kid

    access_token = token_of_key(typed, account, new_kid)
    items = typed.items_as(access_token)
    wait_until(  # items reloads the JWKS on the rotation's event (or on the unknown kid)
        lambda: list_items.sync_detailed(client=items).status_code == 200,
        timeout=CACHE_DEADLINE_SECONDS,
        what="items accepting a token of the new key",
    )
    expect(get_me.sync(client=typed.identity_as(access_token)), UserOut)


def test_access_tokens_of_a_retired_key_are_rejected_with_401(
    stack: Stack, typed: TypedClients
) -> None:
    token = typed.new_account().tokens.access_token
    old_kid = token_header(token)["kid"]
    items, identity = typed.items_as(token), typed.identity_as(token)
    rotate(stack)

    stack.identity_cli("keys", "retire", "--", old_kid)  # a kid may start with "-"

    wait_until(
        lambda: (
            list_items.sync_detailed(client=items).status_code == 401
            and get_me.sync_detailed(client=identity).status_code == 401
        ),
        timeout=CACHE_DEADLINE_SECONDS,
        what=f"items and identity rejecting a token of the retired key {old_kid}",
    )
    time.sleep(KEY_CACHE_SECONDS + 1)  # no cache anywhere still holds the retired key
    for answer in (list_items.sync_detailed(client=items), get_me.sync_detailed(client=identity)):
        assert problem_response(answer) == (401, "invalid_token")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
