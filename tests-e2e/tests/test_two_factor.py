"""Two-factor login through the gateway: enrol with codes computed here from the secret (as an
authenticator app does), then login needs a code, a recovery code works once, and items takes
the access token the second step gives."""

import time

import pyotp
from e2e.typed_clients import TypedAccount, TypedClients, expect, problem
from identity_client.api.auth import login, verify_mfa
from identity_client.api.users import confirm_totp, start_totp
from identity_client.models import (
    LoginRequest,
    MfaCodeVerify,
    MfaRecoveryVerify,
    MfaRequiredOut,
    RecoveryCodesOut,
    TokenPairOut,
    TotpCodeRequest,
    TotpEnrolmentOut,
)
from items_client.api.items import list_items
from items_client.models import ItemPage


def _enrol(typed: TypedClients, account: TypedAccount) -> tuple[pyotp.TOTP, list[str]]:
    caller = typed.identity_as(account.tokens.access_token)
    started = expect(start_totp.sync(client=caller), TotpEnrolmentOut)
    assert started.otpauth_uri.startswith("otpauth://totp/")
    totp = pyotp.TOTP(started.secret)
    # The previous step's code (accepted: one step of drift), so that the current step's code
    # is still unused for the login below.
    confirmed = expect(
        confirm_totp.sync(
            client=caller, body=TotpCodeRequest(code=totp.at(time.time() - totp.interval))
        ),
        RecoveryCodesOut,
    )
    assert len(confirmed.recovery_codes) == 10
    return totp, confirmed.recovery_codes


def _challenge(typed: TypedClients, account: TypedAccount) -> str:
    answer = login.sync(
        client=typed.identity, body=LoginRequest(email=account.email, password=account.password)
    )
    return expect(answer, MfaRequiredOut).mfa_token  # not a token pair


def test_with_two_factor_on_login_needs_a_code_and_the_tokens_work_at_items(
    typed: TypedClients,
) -> None:
    account = typed.new_account()
    totp, _ = _enrol(typed, account)

    wrong = verify_mfa.sync(
        client=typed.identity,
        body=MfaCodeVerify(mfa_token=_challenge(typed, account), code="000000"),
    )
    finished = verify_mfa.sync(
        client=typed.identity,
        body=MfaCodeVerify(mfa_token=_challenge(typed, account), code=totp.now()),
    )

    assert problem(wrong) == (401, "invalid_mfa")
    pair = expect(finished, TokenPairOut)
    assert isinstance(list_items.sync(client=typed.items_as(pair.access_token)), ItemPage)


def test_a_recovery_code_finishes_one_login_only(typed: TypedClients) -> None:
    account = typed.new_account()
    _, codes = _enrol(typed, account)

    first = verify_mfa.sync(
        client=typed.identity,
        body=MfaRecoveryVerify(mfa_token=_challenge(typed, account), recovery_code=codes[0]),
    )
    again = verify_mfa.sync(
        client=typed.identity,
        body=MfaRecoveryVerify(mfa_token=_challenge(typed, account), recovery_code=codes[0]),
    )

    expect(first, TokenPairOut)
    assert problem(again) == (401, "invalid_mfa")
