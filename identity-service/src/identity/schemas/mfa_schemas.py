"""Two-factor login (TOTP) bodies."""

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from service_kit.schemas import InputModel, Omittable, OutputModel

TotpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RecoveryCodeStr = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class TotpEnrolmentOut(OutputModel):
    secret: str
    """Base32, for an authenticator app that cannot read the URI; shown only now."""
    otpauth_uri: str
    """`otpauth://totp/...`: what a QR code for the app holds."""


class TotpCodeRequest(InputModel):
    code: TotpCode


class MfaCodeRequest(InputModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="A code from the authenticator app, or one of the recovery codes."
    )


class RecoveryCodesOut(OutputModel):
    recovery_codes: list[str]
    """Ten single-use codes for when the app is lost; shown only now."""


class MfaRequiredOut(OutputModel):
    mfa_required: Literal[True]
    mfa_token: str
    """For `POST /api/v1/auth/mfa/verify`, with a code: single use, short-lived."""
    expires_in: int


class MfaVerifyRequest(InputModel):
    """The mfa_token and exactly one factor: `code` (from the app) or `recovery_code`."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["recovery_code"]}]}
    )

    mfa_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    code: Omittable[TotpCode] = None
    recovery_code: Omittable[RecoveryCodeStr] = None

    @model_validator(mode="after")
    def _one_factor(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of code and recovery_code")
        return self
