"""Deleting a user at identity erases their data at items (the `identity.user.deleted` event,
applied by items' consumer): every item, soft-deleted ones too, within seconds; nobody else's.

What items holds is observed as an administrator sees it through the API: the deleted user's
items listed with `owner`, and a restore of their soft-deleted item (which an administrator may
do to any item that still exists).
"""

from e2e.api_client import Account, ApiClient, expect_problem
from e2e.waiting import wait_until

ERASURE_SECONDS = 5


def owned(api: ApiClient, admin_token: str, user_id: str) -> list[str]:
    """The ids of the user's (not soft-deleted) items, as an administrator lists them."""
    response = api.list_items(admin_token, owner=user_id, limit=100)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def test_deleting_a_user_erases_their_items_at_items_within_seconds(
    api: ApiClient, admin_token: str, account: Account
) -> None:
    token = account.tokens.access_token
    kept = api.create_item_ok(token, name="kept")
    binned = api.create_item_ok(token, name="binned")
    assert api.delete_item(token, binned["id"]).status_code == 204  # soft-deleted
    bystander = api.new_account()
    theirs = api.create_item_ok(bystander.tokens.access_token, name="someone else's")
    assert owned(api, admin_token, account.user_id) == [kept["id"]]

    deleted = api.delete_user(admin_token, account.user_id)

    assert deleted.status_code == 204, deleted.text
    wait_until(
        lambda: owned(api, admin_token, account.user_id) == [],
        timeout=ERASURE_SECONDS,
        interval=0.1,
        what="the deleted user's items erased",
    )
    # The same erasure batch deleted the soft-deleted item: there is nothing left to restore.
    expect_problem(api.restore_item(admin_token, binned["id"]), 404, "item_not_found")
    assert owned(api, admin_token, bystander.user_id) == [theirs["id"]]
