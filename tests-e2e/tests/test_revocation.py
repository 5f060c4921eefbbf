"""identity's revocations reach items through the integration events (outbox, relay, broker,
consumer, each worker's revocation view): an access token identity voided is refused by items
with 401 `invalid_token` within seconds, by every worker, although items never asks identity.

Each test shows the token working at items first, revokes it through the public API, then waits
(bounded) for the first refusal, and then for a refusal from every items worker.
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from e2e.stack import Stack
from e2e.typed_clients import TypedAccount, TypedClients, expect, problem_response
from e2e.waiting import wait_until
from e2e.workers import EVERY_WORKER_SECONDS, ask_every_worker
from identity_client.api.auth import login, logout_all
from identity_client.api.users import change_password, delete_user, update_user
from identity_client.models import AdminUserUpdate, LoginRequest, PasswordChange, Role, TokenPairOut
from identity_client.types import Response as IdentityResponse
from items_client.api.items import list_items
from items_client.models import ItemPage
from items_client.types import Response as ItemsResponse

REVOCATION_SECONDS = 2
"""From identity's answer to items' first refusal: relay, broker, consumer, a worker's poll."""
ITEMS = "/api/v1/items"


def assert_accepted_by_every_worker(stack: Stack, token: str) -> None:
    # Raw HTTP (`ask_every_worker`): each request carries an `X-Request-ID` of its own, to find
    # in items' log which worker answered it, until every worker has.
    answers = ask_every_worker(stack, path=ITEMS, token=token)

    assert answers.statuses == {200}, answers.by_worker


def assert_refused_in_time_by_every_worker(stack: Stack, typed: TypedClients, token: str) -> None:
    items = typed.items_as(token)

    def refusal() -> ItemsResponse[Any] | None:
        answer = list_items.sync_detailed(client=items)
        return answer if answer.status_code == 401 else None

    refused = wait_until(
        refusal,
        timeout=REVOCATION_SECONDS,
        interval=0.05,
        what="items refusing the revoked access token",
    )
    assert problem_response(refused) == (401, "invalid_token")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # Each worker polls the feed on its own and follows within its poll interval; reading which
    # worker answered (the service's log) makes this check slower than that, not the workers.
    wait_until(
        lambda: ask_every_worker(stack, path=ITEMS, token=token).statuses == {401},
        timeout=EVERY_WORKER_SECONDS,
        interval=0.2,
        what="every items worker refusing the revoked access token",
    )


Revocation = Callable[[TypedClients, str, TypedAccount], IdentityResponse[Any]]
REVOKE_EVERY_SESSION: dict[str, tuple[Revocation, int]] = {
    "logout-all": (
        lambda typed, _admin, account: logout_all.sync_detailed(
            client=typed.identity_as(account.tokens.access_token)
        ),
        204,
    ),
    "deactivation": (
        lambda typed, admin, account: update_user.sync_detailed(
            account.user.id, client=typed.identity_as(admin), body=AdminUserUpdate(is_active=False)
        ),
        200,
    ),
    "deletion": (
        lambda typed, admin, account: delete_user.sync_detailed(
            account.user.id, client=typed.identity_as(admin)
        ),
        204,
    ),
}
"""Each revocation, and the success status identity answers it with."""


@pytest.mark.parametrize("revocation", REVOKE_EVERY_SESSION)
def test_items_refuse_a_users_access_token_within_seconds_when_identity_revokes_every_session(
    stack: Stack, typed: TypedClients, admin_token: str, revocation: str
) -> None:
    account = typed.new_account()
    token = account.tokens.access_token
    expect(list_items.sync(client=typed.items_as(token)), ItemPage)
    revoke, succeeded = REVOKE_EVERY_SESSION[revocation]

    answer = revoke(typed, admin_token, account)

    assert answer.status_code == succeeded, answer.content
    assert_refused_in_time_by_every_worker(stack, typed, token)


def test_items_refuse_an_admins_access_token_within_seconds_when_the_admin_is_demoted(
    stack: Stack, typed: TypedClients, admin_token: str
) -> None:
    account = typed.new_account()
    admin = typed.identity_as(admin_token)
    promoted = update_user.sync_detailed(
        account.user.id, client=admin, body=AdminUserUpdate(role=Role.ADMIN)
    )
    assert promoted.status_code == 200, promoted.content
    credentials = LoginRequest(email=account.email, password=account.password)
    token = expect(  # an admin's token
        login.sync(client=typed.identity, body=credentials), TokenPairOut
    ).access_token
    # Anyone else's items (here: nobody's) may be listed by admins only: a user gets 403.
    listed = list_items.sync_detailed(client=typed.items_as(token), owner=uuid.uuid4())
    assert listed.status_code == 200, listed.content

    demoted = update_user.sync_detailed(
        account.user.id, client=admin, body=AdminUserUpdate(role=Role.USER)
    )

    assert demoted.status_code == 200, demoted.content
    assert_refused_in_time_by_every_worker(stack, typed, token)


def test_items_refuse_the_other_sessions_tokens_and_keep_the_current_one_at_a_password_change(
    stack: Stack, typed: TypedClients
) -> None:
    account = typed.new_account()
    current = account.tokens.access_token
    credentials = LoginRequest(email=account.email, password=account.password)
    other = expect(  # a second session
        login.sync(client=typed.identity, body=credentials), TokenPairOut
    ).access_token
    expect(list_items.sync(client=typed.items_as(other)), ItemPage)

    changed = change_password.sync_detailed(
        client=typed.identity_as(current),
        body=PasswordChange(
            current_password=account.password, new_password=account.password + "-new"
        ),
    )

    assert changed.status_code == 204, changed.content
    assert_refused_in_time_by_every_worker(stack, typed, other)
    assert_accepted_by_every_worker(stack, current)
