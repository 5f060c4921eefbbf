"""Authentication request and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import RootModel, StringConstraints
from pydantic.config import JsonDict

from identity.schemas.mfa_schemas import MfaRequiredOut
from identity.schemas.user_schemas import EmailAddress, NewPassword
from identity.security.password_limits import PASSWORD_MAX_LENGTH
from service_kit.schemas import InputModel, OutputModel, ParamModel, Text, example

RefreshTokenStr = Annotated[str, StringConstraints(min_length=1, max_length=512)]
AccountTokenStr = Annotated[str, StringConstraints(min_length=1, max_length=128)]


TOKEN_PAIR_EXAMPLE: JsonDict = {
    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzXzEiLCJ0eXAiOiJhdCtqd3QifQ.e30.c2ln",
    "refresh_token": "q0Tz8lJm3c4Vt2f1pA9xRk7wYs6bNe5uHd0gLi2oCj",
    "token_type": "Bearer",
    "expires_in": 900,
}
_REFRESH_TOKEN_EXAMPLE: JsonDict = {"refresh_token": "q0Tz8lJm3c4Vt2f1pA9xRk7wYs6bNe5uHd0gLi2oCj"}
_SESSION_EXAMPLE: JsonDict = {
    "id": "2b9d6c1e-7f3a-4d5b-8e0c-1a2b3c4d5e6f",
    "created_at": "2026-12-01T08:00:00Z",
    "last_used_at": "2026-12-01T17:40:12Z",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "current": True,
}


class LoginRequest(InputModel):
    """An account's email and password."""

    model_config = example({"email": "ada@example.com", "password": "correct horse battery staple"})

    email: Annotated[Text, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]


class RefreshTokenRequest(InputModel):
    """A refresh token of a session: `refresh` uses it up and returns a new pair; `logout`
    ends its session."""

    model_config = example(_REFRESH_TOKEN_EXAMPLE)

    refresh_token: RefreshTokenStr


class TokenPairOut(OutputModel):
    """An access token (`expires_in` seconds) and the refresh token that renews it once."""

    model_config = example(TOKEN_PAIR_EXAMPLE)

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class LoginOut(RootModel[TokenPairOut | MfaRequiredOut]):
    """A token pair, or, with two-factor login on, what `POST /auth/mfa/verify` needs."""

    model_config = example(TOKEN_PAIR_EXAMPLE)


class SessionOut(OutputModel):
    """A signed-in session (a refresh-token family); `current`: the caller's own."""

    model_config = example(_SESSION_EXAMPLE)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    current: bool


class SessionList(OutputModel):
    """The caller's sessions, most recently used first (one page: `next_cursor` is null)."""

    model_config = example({"data": [_SESSION_EXAMPLE], "next_cursor": None})

    data: list[SessionOut]
    next_cursor: None = None


class SessionPath(ParamModel):
    session_id: uuid.UUID


class VerifyEmailRequest(InputModel):
    """The token from a verification mail's link."""

    model_config = example({"token": "vX3k9Qm2Lp7Rt4Ws8Yz1Ab5Cd6Ef0Gh"})

    token: AccountTokenStr
    """From the link in the verification mail."""


class MailRequest(InputModel):
    """The address to mail (the answer is the same whether it has an account or not)."""

    model_config = example({"email": "ada@example.com"})

    email: EmailAddress


class PasswordResetConfirm(InputModel):
    """The token from a reset mail's link, and the password to set."""

    model_config = example(
        {
            "token": "vX3k9Qm2Lp7Rt4Ws8Yz1Ab5Cd6Ef0Gh",
            "new_password": "a longer and newer passphrase",
        }
    )

    token: AccountTokenStr
    """From the link in the reset mail."""
    new_password: NewPassword
