"""Refresh-token families: rotation, and what a replayed token does to its family."""

from e2e.typed_clients import TypedClients, expect, problem
from identity_client.api.auth import refresh
from identity_client.models import RefreshTokenRequest, TokenPairOut


def _refreshed(typed: TypedClients, refresh_token: str) -> str:
    answer = refresh.sync(
        client=typed.identity, body=RefreshTokenRequest(refresh_token=refresh_token)
    )
    return expect(answer, TokenPairOut).refresh_token


def _refused(typed: TypedClients, refresh_token: str) -> tuple[int, str]:
    answer = refresh.sync(
        client=typed.identity, body=RefreshTokenRequest(refresh_token=refresh_token)
    )
    return problem(answer)


def test_refresh_rejects_a_replayed_ancestor_token_with_401_refresh_token_reused(
    typed: TypedClients,
) -> None:
    first = typed.new_account().tokens.refresh_token
    _refreshed(typed, _refreshed(typed, first))  # first -> second -> third (live)

    assert _refused(typed, first) == (401, "refresh_token_reused")


def test_refresh_rejects_the_live_token_once_its_family_was_revoked_for_reuse(
    typed: TypedClients,
) -> None:
    first = typed.new_account().tokens.refresh_token
    live = _refreshed(typed, _refreshed(typed, first))
    assert _refused(typed, first) == (401, "refresh_token_reused")

    assert _refused(typed, live) == (401, "invalid_refresh_token")
