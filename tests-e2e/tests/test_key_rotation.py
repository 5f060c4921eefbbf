"""The key-rotation runbook, drilled with the identity CLI inside the running stack.

The stack's key caches are 1-2 s (e2e.stack.DRILL_SETTINGS), so what takes the production
15 + 5 minutes takes seconds here; every wait for a cache is bounded.
"""

import time

from e2e.api_client import Account, ApiClient, expect_problem, token_header
from e2e.keys import CACHE_DEADLINE_SECONDS, rotate, token_of_key
from e2e.stack import KEY_CACHE_SECONDS, Stack
from e2e.waiting import wait_until


def test_access_tokens_signed_before_a_key_rotation_keep_working(
    stack: Stack, api: ApiClient, account: Account
) -> None:
    token = account.tokens.access_token

    rotate(stack)
    time.sleep(KEY_CACHE_SECONDS + 1)  # every cache has reloaded the keys since

    assert api.list_items(token).status_code == 200
    assert api.me(token).status_code == 200


def test_access_tokens_issued_after_a_key_rotation_carry_the_new_kid_and_work(
    stack: Stack, api: ApiClient, account: Account
) -> None:
    old_kid = token_header(account.tokens.access_token)["kid"]

    new_kid = rotate(stack)

    assert new_kid != old_kid

    access_token = token_of_key(api, account, new_kid)
    wait_until(  # items reloads the JWKS on the rotation's event (or on the unknown kid)
        lambda: api.list_items(access_token).status_code == 200,
        timeout=CACHE_DEADLINE_SECONDS,
        what="items accepting a token of the new key",
    )
    assert api.me(access_token).status_code == 200


def test_access_tokens_of_a_retired_key_are_rejected_with_401(
    stack: Stack, api: ApiClient, account: Account
) -> None:
    token = account.tokens.access_token
    old_kid = token_header(token)["kid"]
    rotate(stack)

    stack.identity_cli("keys", "retire", "--", old_kid)  # a kid may start with "-"

    wait_until(
        lambda: api.list_items(token).status_code == 401 and api.me(token).status_code == 401,
        timeout=CACHE_DEADLINE_SECONDS,
        what=f"items and identity rejecting a token of the retired key {old_kid}",
    )
    time.sleep(KEY_CACHE_SECONDS + 1)  # no cache anywhere still holds the retired key
    for route in (api.list_items, api.me):
        response = route(token)
        expect_problem(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
