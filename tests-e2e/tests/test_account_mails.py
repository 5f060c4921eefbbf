"""Email verification and password reset through the gateway, with the mails read from the
stack's mail catcher: registration mails a link that verifies the address; a forgotten password
is reset through a mailed link, after which the old sessions and access tokens are dead."""

import uuid

import pytest
from e2e.api_client import ApiClient, expect_problem, unique_email
from e2e.mailbox import Mailbox
from e2e.stack import Stack
from e2e.waiting import wait_until

REVOCATION_SECONDS = 15


@pytest.fixture
def mailbox(stack: Stack) -> Mailbox:
    return Mailbox(stack.mail_url)


def test_registration_mails_a_link_that_verifies_the_address(
    api: ApiClient, mailbox: Mailbox
) -> None:
    email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
    assert api.register(email, password).json()["email_verified"] is False

    mail = mailbox.wait_for(email, "Confirm your email address")
    verified = api.request("POST", "/api/v1/auth/verify-email", json={"token": Mailbox.token(mail)})

    assert verified.status_code == 204, verified.text
    tokens = api.login_ok(email, password)
    assert api.me(tokens.access_token).json()["email_verified"] is True
    again = api.request("POST", "/api/v1/auth/verify-email", json={"token": Mailbox.token(mail)})
    expect_problem(again, 400, "invalid_token")


def test_a_forgotten_password_is_reset_by_mail_and_the_old_sessions_and_tokens_die(
    api: ApiClient, mailbox: Mailbox
) -> None:
    account = api.new_account()
    assert api.list_items(account.tokens.access_token).status_code == 200
    asked = api.request("POST", "/api/v1/auth/password-reset", json={"email": account.email})
    assert asked.status_code == 202
    mail = mailbox.wait_for(account.email, "Reset your")
    new_password = f"pw-{uuid.uuid4().hex}"

    reset = api.request(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        json={"token": Mailbox.token(mail), "new_password": new_password},
    )

    assert reset.status_code == 204, reset.text
    expect_problem(api.refresh(account.tokens.refresh_token), 401, "invalid_refresh_token")
    refused = wait_until(
        lambda: (
            r if (r := api.list_items(account.tokens.access_token)).status_code == 401 else None
        ),
        timeout=REVOCATION_SECONDS,
        what="items refusing the access token issued before the reset",
    )
    expect_problem(refused, 401, "invalid_token")
    expect_problem(api.login(account.email, account.password), 401, "invalid_credentials")
    assert api.list_items(api.login_ok(account.email, new_password).access_token).status_code == 200


def test_reset_requests_for_unknown_addresses_are_accepted_and_send_nothing(
    api: ApiClient, mailbox: Mailbox
) -> None:
    nobody, somebody = unique_email(), api.new_account().email

    answers = [
        api.request("POST", "/api/v1/auth/password-reset", json={"email": email}).status_code
        for email in (nobody, somebody)
    ]

    assert answers == [202, 202]
    mailbox.wait_for(somebody, "Reset your")  # sent in order: the unknown one came first
    assert mailbox.mails_to(nobody) == []
