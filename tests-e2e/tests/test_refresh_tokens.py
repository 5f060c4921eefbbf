"""Refresh-token families: rotation, and what a replayed token does to its family."""

from e2e.api_client import Account, ApiClient, expect_problem


def _refresh_ok(api: ApiClient, refresh_token: str) -> str:
    response = api.refresh(refresh_token)
    assert response.status_code == 200, response.text
    successor: str = response.json()["refresh_token"]
    return successor


def test_refresh_rejects_a_replayed_ancestor_token_with_401_refresh_token_reused(
    api: ApiClient, account: Account
) -> None:
    first = account.tokens.refresh_token
    _refresh_ok(api, _refresh_ok(api, first))  # first -> second -> third (live)

    replayed = api.refresh(first)

    expect_problem(replayed, 401, "refresh_token_reused")


def test_refresh_rejects_the_live_token_once_its_family_was_revoked_for_reuse(
    api: ApiClient, account: Account
) -> None:
    first = account.tokens.refresh_token
    live = _refresh_ok(api, _refresh_ok(api, first))
    expect_problem(api.refresh(first), 401, "refresh_token_reused")

    after = api.refresh(live)

    expect_problem(after, 401, "invalid_refresh_token")
