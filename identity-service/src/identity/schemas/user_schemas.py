"""User request and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints
from pydantic.config import JsonDict

from identity.models import Role
from identity.security.password_limits import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from service_kit.schemas import (
    InputModel,
    Omittable,
    OutputModel,
    PageQuery,
    ParamModel,
    PatchModel,
    Text,
    example,
)

Password = Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
NewPassword = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)
]
"""A password being set: the default policy's bounds, so a schema-valid password is accepted
(`IDENTITY_PASSWORD_MIN_LENGTH` above the default makes the policy stricter than documented)."""
FullName = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
EMAIL_MAX_LENGTH = 254  # RFC 5321: a forward path holds at most 256 octets, brackets included


def _email_address(value: str) -> str:
    """The `email` format as documented: an ASCII local part, no quoting, no IP literal, no DNS
    lookup. Reserved names (`.test`, `.example`) are addresses like any other; `.local`,
    `.localhost`, `.invalid`, `.onion` and `.arpa` never reach a mailbox and are refused."""
    try:
        checked = validate_email(
            value, check_deliverability=False, test_environment=True, allow_smtputf8=False
        )
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return checked.normalized


EmailAddress = Annotated[
    str,
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    AfterValidator(_email_address),
    Field(json_schema_extra={"format": "email"}),
]


USER_EXAMPLE: JsonDict = {
    "id": "6f1c2b8e-3d4a-4e5f-9a0b-1c2d3e4f5a6b",
    "email": "ada@example.com",
    "email_verified": True,
    "full_name": "Ada Lovelace",
    "role": "user",
    "is_active": True,
    "created_at": "2026-11-30T09:15:00Z",
    "updated_at": "2026-12-01T17:40:12Z",
}


class UserCreate(InputModel):
    """A new account (`role` user); a verification mail goes to `email`."""

    model_config = example(
        {
            "email": "ada@example.com",
            "password": "correct horse battery staple",
            "full_name": "Ada Lovelace",
        }
    )

    email: EmailAddress
    password: NewPassword
    full_name: FullName | None = None


class UserUpdate(InputModel):
    """The caller's own changes; `full_name: null` clears the name."""

    model_config = example({"full_name": "Ada King"})

    full_name: FullName | None = None


class AdminUserUpdate(PatchModel):
    """Only the fields present change; `full_name: null` clears the name."""

    model_config = example({"role": "admin"})

    not_nullable: ClassVar[tuple[str, ...]] = ("role", "is_active")

    full_name: FullName | None = None
    role: Omittable[Annotated[Role, Field(strict=False)]] = None
    is_active: Omittable[bool] = None


class PasswordChange(InputModel):
    """The current password, and the one to set; the caller's other sessions end."""

    model_config = example(
        {
            "current_password": "correct horse battery staple",
            "new_password": "a longer and newer passphrase",
        }
    )

    current_password: Password
    new_password: NewPassword


class UserOut(OutputModel):
    """An account."""

    model_config = example(USER_EXAMPLE)

    id: uuid.UUID = Field(validation_alias="public_id")
    email: str
    email_verified: bool
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(OutputModel):
    """A page of accounts; `next_cursor` (null on the last page) asks for the next."""

    model_config = example({"data": [USER_EXAMPLE], "next_cursor": None})

    data: list[UserOut]
    next_cursor: str | None


class UserListQuery(PageQuery):
    q: Omittable[Annotated[Text, StringConstraints(min_length=1, max_length=100)]] = None


class UserPath(ParamModel):
    user_id: uuid.UUID
