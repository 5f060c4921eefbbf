"""Authentication request and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import RootModel, StringConstraints

from identity.schemas.mfa_schemas import MfaRequiredOut
from identity.schemas.user_schemas import EmailAddress, NewPassword
from identity.security.password_limits import PASSWORD_MAX_LENGTH
from service_kit.schemas import InputModel, OutputModel, ParamModel, Text

RefreshTokenStr = Annotated[str, StringConstraints(min_length=1, max_length=512)]
AccountTokenStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LoginRequest(InputModel):
    email: Annotated[Text, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class RefreshRequest(InputModel):
    refresh_token: RefreshTokenStr


class LogoutRequest(InputModel):
    refresh_token: RefreshTokenStr


class TokenPairOut(OutputModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class LoginOut(RootModel[TokenPairOut | MfaRequiredOut]):
    """A token pair, or, with two-factor login on, what `POST /auth/mfa/verify` needs."""


class SessionOut(OutputModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool


class SessionList(OutputModel):
    data: list[SessionOut]
    next_cursor: None = None


class SessionPath(ParamModel):
    session_id: uuid.UUID


class VerifyEmailRequest(InputModel):
    token: AccountTokenStr
    """From the link in the verification mail."""


class MailRequest(InputModel):
    email: EmailAddress


class PasswordResetConfirm(InputModel):
    token: AccountTokenStr
    """From the link in the reset mail."""
    new_password: NewPassword
