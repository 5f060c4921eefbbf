"""Email verification and password reset through the gateway, with the mails read from the
stack's mail catcher: registration mails a link that verifies the address; a forgotten password
is reset through a mailed link, after which the old sessions and access tokens are dead."""

import uuid

import pytest
from e2e.api_client import unique_email
from e2e.mailbox import Mailbox
from e2e.stack import Stack
from e2e.typed_clients import TypedClients, expect, problem
from e2e.waiting import wait_until
from identity_client.api.auth import (
    confirm_password_reset,
    login,
    refresh,
    register,
    request_password_reset,
    verify_email,
)
from identity_client.api.users import get_me
from identity_client.models import (
    LoginRequest,
    MailRequest,
    PasswordResetConfirm,
    RefreshTokenRequest,
    TokenPairOut,
    UserCreate,
    UserOut,
    VerifyEmailRequest,
)
from items_client.api.items import list_items
from items_client.models import ItemPage
from items_client.models import Problem as ItemsProblem

REVOCATION_SECONDS = 15


@pytest.fixture
def mailbox(stack: Stack) -> Mailbox:
    return Mailbox(stack.mail_url)


def test_registration_mails_a_link_that_verifies_the_address(
    typed: TypedClients, mailbox: Mailbox
) -> None:
    email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
    user = register.sync(client=typed.identity, body=UserCreate(email=email, password=password))
    assert expect(user, UserOut).email_verified is False

    mail = mailbox.wait_for(email, "Confirm your email address")
    token = VerifyEmailRequest(token=Mailbox.token(mail))
    verified = verify_email.sync_detailed(client=typed.identity, body=token)

    assert verified.status_code == 204, verified.content
    tokens = expect(
        login.sync(client=typed.identity, body=LoginRequest(email=email, password=password)),
        TokenPairOut,
    )
    me = expect(get_me.sync(client=typed.identity_as(tokens.access_token)), UserOut)
    assert me.email_verified is True
    assert problem(verify_email.sync(client=typed.identity, body=token)) == (400, "invalid_token")


def test_a_forgotten_password_is_reset_by_mail_and_the_old_sessions_and_tokens_die(
    typed: TypedClients, mailbox: Mailbox
) -> None:
    account = typed.new_account()
    before = typed.items_as(account.tokens.access_token)
    expect(list_items.sync(client=before), ItemPage)
    asked = request_password_reset.sync_detailed(
        client=typed.identity, body=MailRequest(email=account.email)
    )
    assert asked.status_code == 202
    mail = mailbox.wait_for(account.email, "Reset your")
    new_password = f"pw-{uuid.uuid4().hex}"

    reset = confirm_password_reset.sync_detailed(
        client=typed.identity,
        body=PasswordResetConfirm(token=Mailbox.token(mail), new_password=new_password),
    )

    assert reset.status_code == 204, reset.content
    old_refresh = RefreshTokenRequest(refresh_token=account.tokens.refresh_token)
    assert problem(refresh.sync(client=typed.identity, body=old_refresh)) == (
        401,
        "invalid_refresh_token",
    )
    refused = wait_until(
        lambda: r if isinstance(r := list_items.sync(client=before), ItemsProblem) else None,
        timeout=REVOCATION_SECONDS,
        what="items refusing the access token issued before the reset",
    )
    assert problem(refused) == (401, "invalid_token")
    old_login = LoginRequest(email=account.email, password=account.password)
    assert problem(login.sync(client=typed.identity, body=old_login)) == (
        401,
        "invalid_credentials",
    )
    new_login = LoginRequest(email=account.email, password=new_password)
    tokens = expect(login.sync(client=typed.identity, body=new_login), TokenPairOut)
    expect(list_items.sync(client=typed.items_as(tokens.access_token)), ItemPage)


def test_reset_requests_for_unknown_addresses_are_accepted_and_send_nothing(
    typed: TypedClients, mailbox: Mailbox
) -> None:
    nobody, somebody = unique_email(), typed.new_account().email

    answers = [
        request_password_reset.sync_detailed(
            client=typed.identity, body=MailRequest(email=email)
        ).status_code
        for email in (nobody, somebody)
    ]

    assert answers == [202, 202]
    mailbox.wait_for(somebody, "Reset your")  # sent in order: the unknown one came first
    assert mailbox.mails_to(nobody) == []
