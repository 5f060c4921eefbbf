"""Item request and response bodies, query, path and header parameters."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from items.models import ItemStatus
from service_kit.schemas import InputModel, OutputModel, PageQuery, ParamModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
LaxStatus = Annotated[ItemStatus, Field(strict=False)]


class ItemCreate(InputModel):
    name: Name
    description: Description | None = None
    status: LaxStatus = ItemStatus.DRAFT


class ItemUpdate(InputModel):
    """Only the fields present change; `description: null` clears it."""

    name: Name | None = None
    description: Description | None = None
    status: LaxStatus | None = None

    @model_validator(mode="after")
    def _name_and_status_are_not_nullable(self) -> Self:
        for field in ("name", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ItemOut(OutputModel):
    id: uuid.UUID = Field(validation_alias="public_id")
    name: str
    description: str | None
    status: ItemStatus
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = Field(exclude=True)  # the ETag; not part of the body


class ItemPage(OutputModel):
    data: list[ItemOut]
    next_cursor: str | None


class ItemListQuery(PageQuery):
    status: ItemStatus | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    sort: Literal["-created_at", "created_at"] = "-created_at"
    owner: uuid.UUID | None = Field(default=None, description="Admins only: one owner's items")


class ItemPath(ParamModel):
    item_id: uuid.UUID


class _Headers(BaseModel):
    # Every other request header is passed in too, so unknown ones are ignored here.
    model_config = ConfigDict(extra="ignore")


class CreateHeaders(_Headers):
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
        | None
    ) = Field(default=None, description="Repeat-safe POST: same key + body = same item")


class ReadHeaders(_Headers):
    if_none_match: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="ETag(s) the client has; 304 when one still matches"
    )


class UpdateHeaders(_Headers):
    if_match: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="Only update if the item still has this ETag (else 412)"
    )
