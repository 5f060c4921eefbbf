"""Two-factor login (TOTP) bodies."""

from typing import Annotated, Literal

from pydantic import Field, RootModel, StringConstraints

from service_kit.schemas import InputModel, OutputModel, example

TotpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RecoveryCodeStr = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class TotpEnrolmentOut(OutputModel):
    """A new authenticator secret, to confirm with a code before it counts."""

    model_config = example(
        {
            "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "otpauth_uri": "otpauth://totp/Example:ada%40example.com"
            "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example",
        }
    )

    secret: str
    """Base32, for an authenticator app that cannot read the URI; shown only now."""
    otpauth_uri: str
    """`otpauth://totp/...`: what a QR code for the app holds."""


class TotpCodeRequest(InputModel):
    """A code from the authenticator app."""

    model_config = example({"code": "492039"})

    code: TotpCode


class MfaCodeRequest(InputModel):
    """A code from the authenticator app, or a recovery code."""

    model_config = example({"code": "492039"})

    code: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="A code from the authenticator app, or one of the recovery codes."
    )


class RecoveryCodesOut(OutputModel):
    """Two-factor login is on; keep these codes somewhere safe."""

    model_config = example({"recovery_codes": ["7QKD-M2XP", "R4TN-8VWC"]})

    recovery_codes: list[str]
    """Ten single-use codes for when the app is lost; shown only now."""


class MfaRequiredOut(OutputModel):
    """The password was right; the second factor is still to come."""

    model_config = example(
        {"mfa_required": True, "mfa_token": "Zk3Lq8Wm1Pn7Rt2Ys5Xv0Bc4Dg9Fh6Jj", "expires_in": 300}
    )

    mfa_required: Literal[True]
    mfa_token: str
    """For `POST /api/v1/auth/mfa/verify`, with a code: single use, short-lived."""
    expires_in: int


MfaToken = Annotated[str, StringConstraints(min_length=1, max_length=512)]
_MFA_TOKEN_EXAMPLE = "Zk3Lq8Wm1Pn7Rt2Ys5Xv0Bc4Dg9Fh6Jj"  # noqa: S105 - a documented example


class MfaCodeVerify(InputModel):
    """The login's second step with a code from the authenticator app (used once)."""

    model_config = example({"mfa_token": _MFA_TOKEN_EXAMPLE, "code": "492039"})

    mfa_token: MfaToken
    code: TotpCode


class MfaRecoveryVerify(InputModel):
    """The login's second step with one of the recovery codes (used once)."""

    model_config = example({"mfa_token": _MFA_TOKEN_EXAMPLE, "recovery_code": "7QKD-M2XP"})

    mfa_token: MfaToken
    recovery_code: RecoveryCodeStr


class MfaVerifyRequest(RootModel[MfaCodeVerify | MfaRecoveryVerify]):
    """The mfa_token and exactly one factor: `code` (from the app) or `recovery_code`."""

    model_config = example({"mfa_token": _MFA_TOKEN_EXAMPLE, "code": "492039"})
