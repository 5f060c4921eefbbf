"""Users see only their own items: anyone else's is 404, exactly like a missing one."""

from typing import Any

import pytest
import requests
from e2e.api_client import Account, ApiClient, expect_problem

ACTIONS: dict[str, Any] = {
    "get": lambda api, token, item_id: api.get_item(token, item_id),
    "update": lambda api, token, item_id: api.update_item(token, item_id, name="taken over"),
    "delete": lambda api, token, item_id: api.delete_item(token, item_id),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_item_routes_answer_404_when_the_item_belongs_to_another_user(
    api: ApiClient, account: Account, action: str
) -> None:
    item = api.create_item_ok(account.tokens.access_token, name="mine")
    intruder = api.new_account()

    response: requests.Response = ACTIONS[action](api, intruder.tokens.access_token, item["id"])

    expect_problem(response, 404, "item_not_found")
    assert api.get_item(account.tokens.access_token, item["id"]).json()["name"] == "mine"


def test_list_items_shows_no_items_of_other_users(api: ApiClient, account: Account) -> None:
    api.create_item_ok(account.tokens.access_token, name="mine")
    other = api.new_account()

    listed = api.list_items(other.tokens.access_token)

    assert listed.status_code == 200
    assert listed.json()["data"] == []
