"""identity's revocations reach items through the integration events (outbox, relay, broker,
consumer, each worker's revocation view): an access token identity voided is refused by items
with 401 `invalid_token` within seconds, by every worker, although items never asks identity.

Each test shows the token working at items first, revokes it through the public API, then waits
(bounded) for the first refusal, and then for a refusal from every items worker.
"""

import uuid
from collections.abc import Callable

import pytest
import requests
from e2e.api_client import Account, ApiClient, expect_problem
from e2e.stack import Stack
from e2e.waiting import wait_until
from e2e.workers import EVERY_WORKER_SECONDS, ask_every_worker

REVOCATION_SECONDS = 2
"""From identity's answer to items' first refusal: relay, broker, consumer, a worker's poll."""
ITEMS = "/api/v1/items"


def assert_accepted_by_every_worker(stack: Stack, token: str) -> None:
    answers = ask_every_worker(stack, path=ITEMS, token=token)

    assert answers.statuses == {200}, answers.by_worker


def assert_refused_in_time_by_every_worker(stack: Stack, api: ApiClient, token: str) -> None:
    refused = wait_until(
        lambda: response if (response := api.list_items(token)).status_code == 401 else None,
        timeout=REVOCATION_SECONDS,
        interval=0.05,
        what="items refusing the revoked access token",
    )
    expect_problem(refused, 401, "invalid_token")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # Each worker polls the feed on its own and follows within its poll interval; reading which
    # worker answered (the service's log) makes this check slower than that, not the workers.
    wait_until(
        lambda: ask_every_worker(stack, path=ITEMS, token=token).statuses == {401},
        timeout=EVERY_WORKER_SECONDS,
        interval=0.2,
        what="every items worker refusing the revoked access token",
    )


REVOKE_EVERY_SESSION: dict[str, Callable[[ApiClient, str, Account], requests.Response]] = {
    "logout-all": lambda api, _admin, account: api.logout_all(account.tokens.access_token),
    "deactivation": lambda api, admin, account: api.update_user(
        admin, account.user_id, is_active=False
    ),
    "deletion": lambda api, admin, account: api.delete_user(admin, account.user_id),
}


@pytest.mark.parametrize("revocation", REVOKE_EVERY_SESSION)
def test_items_refuse_a_users_access_token_within_seconds_when_identity_revokes_every_session(
    stack: Stack, api: ApiClient, admin_token: str, account: Account, revocation: str
) -> None:
    token = account.tokens.access_token
    assert api.list_items(token).status_code == 200

    answer = REVOKE_EVERY_SESSION[revocation](api, admin_token, account)

    assert answer.ok, answer.text
    assert_refused_in_time_by_every_worker(stack, api, token)


def test_items_refuse_an_admins_access_token_within_seconds_when_the_admin_is_demoted(
    stack: Stack, api: ApiClient, admin_token: str, account: Account
) -> None:
    promoted = api.update_user(admin_token, account.user_id, role="admin")
    assert promoted.status_code == 200, promoted.text
    token = api.login_ok(account.email, account.password).access_token  # an admin's token
    # Anyone else's items (here: nobody's) may be listed by admins only: a user gets 403.
    assert api.list_items(token, owner=str(uuid.uuid4())).status_code == 200

    demoted = api.update_user(admin_token, account.user_id, role="user")

    assert demoted.status_code == 200, demoted.text
    assert_refused_in_time_by_every_worker(stack, api, token)


def test_items_refuse_the_other_sessions_tokens_and_keep_the_current_one_at_a_password_change(
    stack: Stack, api: ApiClient, account: Account
) -> None:
    current = account.tokens.access_token
    other = api.login_ok(account.email, account.password).access_token  # a second session
    assert api.list_items(other).status_code == 200

    changed = api.change_password(
        current, current_password=account.password, new_password=account.password + "-new"
    )

    assert changed.status_code == 204, changed.text
    assert_refused_in_time_by_every_worker(stack, api, other)
    assert_accepted_by_every_worker(stack, current)
