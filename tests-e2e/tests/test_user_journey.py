"""The whole journey of one user, across both services, through the gateway."""

from e2e.api_client import ApiClient, unique_email


def test_a_user_registers_logs_in_manages_items_refreshes_and_logs_out(api: ApiClient) -> None:
    email, password = unique_email(), "correct horse battery"

    registered = api.register(email, password)
    assert registered.status_code == 201, registered.text
    user = registered.json()
    assert user["email"] == email
    tokens = api.login_ok(email, password)
    me = api.me(tokens.access_token)
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]

    created = api.create_item(tokens.access_token, name="First item", description="from e2e")
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["owner_id"] == user["id"]
    assert item["status"] == "draft"
    assert created.headers["Location"].endswith(f"/api/v1/items/{item['id']}")
    listed = api.list_items(tokens.access_token)
    assert [row["id"] for row in listed.json()["data"]] == [item["id"]]
    fetched = api.get_item(tokens.access_token, item["id"])
    assert fetched.json() == item
    updated = api.update_item(
        tokens.access_token, item["id"], if_match=fetched.headers["ETag"], status="active"
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"] == "active"
    assert updated.headers["ETag"] != fetched.headers["ETag"]
    assert api.delete_item(tokens.access_token, item["id"]).status_code == 204
    assert api.get_item(tokens.access_token, item["id"]).status_code == 404

    refreshed = api.refresh(tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    new_pair = refreshed.json()
    assert new_pair["refresh_token"] != tokens.refresh_token
    assert api.list_items(new_pair["access_token"]).status_code == 200

    assert api.logout(new_pair["refresh_token"]).status_code == 204
    after_logout = api.refresh(new_pair["refresh_token"])
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "invalid_refresh_token"
