"""The whole journey of one user, across both services, through the gateway, driven by the
generated typed clients (clients/identity-client, clients/items-client) as a client developer
would."""

from e2e.api_client import unique_email
from e2e.typed_clients import TypedClients, problem
from identity_client.api.auth import login, logout, refresh, register
from identity_client.api.users import get_me
from identity_client.models import (
    LoginRequest,
    RefreshTokenRequest,
    TokenPairOut,
    UserCreate,
    UserOut,
)
from items_client.api.items import create_item, delete_item, get_item, list_items, update_item
from items_client.models import ItemCreate, ItemOut, ItemPage, ItemStatus, ItemUpdate


def test_a_user_registers_logs_in_manages_items_refreshes_and_logs_out(
    typed: TypedClients,
) -> None:
    identity = typed.identity
    email, password = unique_email(), "correct horse battery"

    registered = register.sync_detailed(
        client=identity, body=UserCreate(email=email, password=password)
    )
    assert registered.status_code == 201, registered.content
    user = registered.parsed
    assert isinstance(user, UserOut)
    assert user.email == email
    tokens = login.sync(client=identity, body=LoginRequest(email=email, password=password))
    assert isinstance(tokens, TokenPairOut)
    caller = typed.identity_as(tokens.access_token)
    me = get_me.sync(client=caller)
    assert isinstance(me, UserOut)
    assert me.id == user.id

    items = typed.items_as(tokens.access_token)
    created = create_item.sync_detailed(
        client=items, body=ItemCreate(name="First item", description="from e2e")
    )
    assert created.status_code == 201, created.content
    item = created.parsed
    assert isinstance(item, ItemOut)
    assert item.owner_id == user.id
    assert item.status == ItemStatus.DRAFT
    assert created.headers["Location"].endswith(f"/api/v1/items/{item.id}")
    listed = list_items.sync(client=items)
    assert isinstance(listed, ItemPage)
    assert [row.id for row in listed.data] == [item.id]
    fetched = get_item.sync_detailed(item.id, client=items)
    assert fetched.parsed == item
    updated = update_item.sync_detailed(
        item.id,
        client=items,
        body=ItemUpdate(status=ItemStatus.ACTIVE),
        if_match=fetched.headers["ETag"],
    )
    assert updated.status_code == 200, updated.content
    assert isinstance(updated.parsed, ItemOut)
    assert updated.parsed.status == ItemStatus.ACTIVE
    assert updated.headers["ETag"] != fetched.headers["ETag"]
    assert delete_item.sync_detailed(item.id, client=items).status_code == 204
    assert problem(get_item.sync(item.id, client=items)) == (404, "item_not_found")

    new_pair = refresh.sync(
        client=identity, body=RefreshTokenRequest(refresh_token=tokens.refresh_token)
    )
    assert isinstance(new_pair, TokenPairOut)
    assert new_pair.refresh_token != tokens.refresh_token
    assert isinstance(list_items.sync(client=typed.items_as(new_pair.access_token)), ItemPage)

    logged_out = logout.sync_detailed(
        client=identity, body=RefreshTokenRequest(refresh_token=new_pair.refresh_token)
    )
    assert logged_out.status_code == 204
    after_logout = refresh.sync(
        client=identity, body=RefreshTokenRequest(refresh_token=new_pair.refresh_token)
    )
    assert problem(after_logout) == (401, "invalid_refresh_token")
