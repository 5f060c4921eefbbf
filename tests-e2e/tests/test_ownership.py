"""Users see only their own items: anyone else's is 404, exactly like a missing one."""

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from e2e.typed_clients import TypedClients, expect, problem
from items_client import AuthenticatedClient
from items_client.api.items import create_item, delete_item, get_item, list_items, update_item
from items_client.models import ItemCreate, ItemOut, ItemPage, ItemUpdate

ACTIONS: dict[str, Callable[[AuthenticatedClient, UUID], Any]] = {
    "get": lambda items, item_id: get_item.sync(item_id, client=items),
    "update": lambda items, item_id: update_item.sync(
        item_id, client=items, body=ItemUpdate(name="taken over")
    ),
    "delete": lambda items, item_id: delete_item.sync(item_id, client=items),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_item_routes_answer_404_when_the_item_belongs_to_another_user(
    typed: TypedClients, action: str
) -> None:
    owner = typed.items_as(typed.new_account().tokens.access_token)
    item = expect(create_item.sync(client=owner, body=ItemCreate(name="mine")), ItemOut)
    intruder = typed.items_as(typed.new_account().tokens.access_token)

    answer = ACTIONS[action](intruder, item.id)

    assert problem(answer) == (404, "item_not_found")
    assert expect(get_item.sync(item.id, client=owner), ItemOut).name == "mine"


def test_list_items_shows_no_items_of_other_users(typed: TypedClients) -> None:
    owner = typed.items_as(typed.new_account().tokens.access_token)
    expect(create_item.sync(client=owner, body=ItemCreate(name="mine")), ItemOut)
    other = typed.items_as(typed.new_account().tokens.access_token)

    listed = expect(list_items.sync(client=other), ItemPage)

    assert listed.data == []
