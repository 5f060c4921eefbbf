"""The signing-key runbook's steps as the drills take them (identity's CLI inside the stack)."""

from typing import Final

from identity_client.api.auth import login
from identity_client.models import LoginRequest, TokenPairOut

from e2e.api_client import token_header
from e2e.stack import KEY_CACHE_SECONDS, Stack
from e2e.typed_clients import TypedAccount, TypedClients, expect
from e2e.waiting import wait_until

CACHE_DEADLINE_SECONDS: Final = KEY_CACHE_SECONDS + 10


def rotate(stack: Stack) -> str:
    """`keys rotate`; the new active kid."""
    output = stack.identity_cli("keys", "rotate")  # "active <kid>"
    return output.split()[-1]


def token_of_key(typed: TypedClients, account: TypedAccount, kid: str) -> str:
    """An access token of `account` signed with `kid`: identity caches its signing key for up to
    a second, so a login right after a rotation may still get the previous key."""
    credentials = LoginRequest(email=account.email, password=account.password)

    def login_with_the_key() -> str | None:
        tokens = expect(login.sync(client=typed.identity, body=credentials), TokenPairOut)
        return tokens.access_token if token_header(tokens.access_token)["kid"] == kid else None

    return wait_until(
        login_with_the_key,
        timeout=CACHE_DEADLINE_SECONDS,
        interval=0.3,
        what=f"a token signed with the key {kid}",
    )
