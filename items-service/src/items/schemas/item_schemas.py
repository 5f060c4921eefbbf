"""Item request and response bodies, query, path and header parameters."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from items.models import ItemStatus
from service_kit.schemas import HeaderModel, InputModel, OutputModel, PageQuery, ParamModel, Text

Name = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[Text, StringConstraints(max_length=2000)]
LaxStatus = Annotated[ItemStatus, Field(strict=False)]


def _without_default(schema: JsonDict) -> None:
    schema.pop("default", None)


# May be left out but not null, so the schema shows neither a null branch nor `default: null`.
OptionalName = Annotated[Name | SkipJsonSchema[None], Field(json_schema_extra=_without_default)]
OptionalStatus = Annotated[
    LaxStatus | SkipJsonSchema[None], Field(json_schema_extra=_without_default)
]


class ItemCreate(InputModel):
    name: Name
    description: Description | None = None
    status: LaxStatus = ItemStatus.DRAFT


class ItemUpdate(InputModel):
    """Only the fields present change; `description: null` clears it."""

    name: OptionalName = None
    description: Description | None = None
    status: OptionalStatus = None

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
    q: Annotated[Text, StringConstraints(min_length=1, max_length=100)] | None = None
    sort: Literal["-created_at", "created_at"] = "-created_at"
    owner: uuid.UUID | None = Field(default=None, description="Admins only: one owner's items")


class ItemPath(ParamModel):
    item_id: uuid.UUID


class CreateHeaders(HeaderModel):
    idempotency_key: (
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
        | None
    ) = Field(
        default=None,
        alias="Idempotency-Key",
        description="Repeat-safe POST: same key + body = same item",
    )


class ReadHeaders(HeaderModel):
    if_none_match: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None,
        alias="If-None-Match",
        description="ETag(s) the client has; 304 when one still matches",
    )


class UpdateHeaders(HeaderModel):
    if_match: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None,
        alias="If-Match",
        description="Only update if the item still has this ETag (else 412)",
    )
