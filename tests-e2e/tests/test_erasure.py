"""Deleting a user at identity erases their data at items (the `identity.user.deleted` event,
applied by items' consumer): every item, soft-deleted ones too, within seconds; nobody else's.

What items holds is observed as an administrator sees it through the API: the deleted user's
items listed with `owner`, and a restore of their soft-deleted item (which an administrator may
do to any item that still exists).
"""

from uuid import UUID

from e2e.typed_clients import TypedClients, expect, problem
from e2e.waiting import wait_until
from identity_client.api.users import delete_user
from items_client import AuthenticatedClient
from items_client.api.items import create_item, delete_item, list_items, restore_item
from items_client.models import ItemCreate, ItemOut, ItemPage

ERASURE_SECONDS = 5


def owned(admin: AuthenticatedClient, user_id: UUID) -> list[UUID]:
    """The ids of the user's (not soft-deleted) items, as an administrator lists them."""
    page = expect(list_items.sync(client=admin, owner=user_id, limit=100), ItemPage)
    return [item.id for item in page.data]


def test_deleting_a_user_erases_their_items_at_items_within_seconds(
    typed: TypedClients, admin_token: str
) -> None:
    account = typed.new_account()
    mine, admin = typed.items_as(account.tokens.access_token), typed.items_as(admin_token)
    kept = expect(create_item.sync(client=mine, body=ItemCreate(name="kept")), ItemOut)
    binned = expect(create_item.sync(client=mine, body=ItemCreate(name="binned")), ItemOut)
    assert delete_item.sync_detailed(binned.id, client=mine).status_code == 204  # soft-deleted
    bystander = typed.new_account()
    theirs = expect(
        create_item.sync(
            client=typed.items_as(bystander.tokens.access_token),
            body=ItemCreate(name="someone else's"),
        ),
        ItemOut,
    )
    assert owned(admin, account.user.id) == [kept.id]

    deleted = delete_user.sync_detailed(account.user.id, client=typed.identity_as(admin_token))

    assert deleted.status_code == 204, deleted.content
    wait_until(
        lambda: owned(admin, account.user.id) == [],
        timeout=ERASURE_SECONDS,
        interval=0.1,
        what="the deleted user's items erased",
    )
    # The same erasure batch deleted the soft-deleted item: there is nothing left to restore.
    assert problem(restore_item.sync(binned.id, client=admin)) == (404, "item_not_found")
    assert owned(admin, bystander.user.id) == [theirs.id]
