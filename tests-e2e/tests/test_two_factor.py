"""Two-factor login through the gateway: enrol with codes computed here from the secret (as an
authenticator app does), then login needs a code, a recovery code works once, and items takes
the access token the second step gives."""

import time

import pyotp
from e2e.api_client import Account, ApiClient, expect_problem

TOTP = "/api/v1/users/me/mfa/totp"
VERIFY = "/api/v1/auth/mfa/verify"


def _enrol(api: ApiClient, account: Account) -> tuple[pyotp.TOTP, list[str]]:
    started = api.request("POST", TOTP, token=account.tokens.access_token)
    assert started.status_code == 201, started.text
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(started.json()["secret"])
    # The previous step's code (accepted: one step of drift), so that the current step's code
    # is still unused for the login below.
    confirmed = api.request(
        "POST",
        f"{TOTP}/confirm",
        token=account.tokens.access_token,
        json={"code": totp.at(time.time() - totp.interval)},
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    return totp, codes


def _challenge(api: ApiClient, account: Account) -> str:
    login = api.login(account.email, account.password)
    assert login.status_code == 200, login.text
    assert login.json()["mfa_required"] is True
    assert "access_token" not in login.json()
    return str(login.json()["mfa_token"])


def test_with_two_factor_on_login_needs_a_code_and_the_tokens_work_at_items(
    api: ApiClient,
) -> None:
    account = api.new_account()
    totp, _ = _enrol(api, account)

    wrong = api.request(
        "POST", VERIFY, json={"mfa_token": _challenge(api, account), "code": "000000"}
    )
    finished = api.request(
        "POST", VERIFY, json={"mfa_token": _challenge(api, account), "code": totp.now()}
    )

    expect_problem(wrong, 401, "invalid_mfa")
    assert finished.status_code == 200, finished.text
    assert api.list_items(finished.json()["access_token"]).status_code == 200


def test_a_recovery_code_finishes_one_login_only(api: ApiClient) -> None:
    account = api.new_account()
    _, codes = _enrol(api, account)

    first = api.request(
        "POST", VERIFY, json={"mfa_token": _challenge(api, account), "recovery_code": codes[0]}
    )
    again = api.request(
        "POST", VERIFY, json={"mfa_token": _challenge(api, account), "recovery_code": codes[0]}
    )

    assert first.status_code == 200, first.text
    expect_problem(again, 401, "invalid_mfa")
