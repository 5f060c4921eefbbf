"""User request and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from identity.models import Role
from service_kit.schemas import InputModel, OutputModel, PageQuery, ParamModel

Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
FullName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class UserCreate(InputModel):
    email: Annotated[EmailStr, Field(max_length=320)]
    password: Password
    full_name: FullName | None = None


class UserUpdate(InputModel):
    full_name: FullName | None = None


class AdminUserUpdate(InputModel):
    full_name: FullName | None = None
    role: Annotated[Role | None, Field(strict=False)] = None
    is_active: bool | None = None


class PasswordChange(InputModel):
    current_password: Password
    new_password: Password


class UserOut(OutputModel):
    id: uuid.UUID = Field(validation_alias="public_id")
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(OutputModel):
    data: list[UserOut]
    next_cursor: str | None


class UserListQuery(PageQuery):
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class UserPath(ParamModel):
    user_id: uuid.UUID
