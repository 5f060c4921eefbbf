"""Item request and response bodies, query, path and header parameters."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from items.models import ItemStatus
from service_kit.schemas import (
    EntityTagList,
    HeaderModel,
    InputModel,
    Omittable,
    OutputModel,
    PageQuery,
    ParamModel,
    PatchModel,
    Text,
)

Name = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[Text, StringConstraints(max_length=2000)]
LaxStatus = Annotated[ItemStatus, Field(strict=False)]


class ItemCreate(InputModel):
    name: Name
    description: Description | None = None
    status: LaxStatus = ItemStatus.DRAFT


class ItemUpdate(PatchModel):
    """Only the fields present change; `description: null` clears it."""

    not_nullable: ClassVar[tuple[str, ...]] = ("name", "status")

    name: Omittable[Name] = None
    description: Description | None = None
    status: Omittable[LaxStatus] = None


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
    status: Omittable[ItemStatus] = None
    q: Omittable[Annotated[Text, StringConstraints(min_length=1, max_length=100)]] = None
    sort: Literal["-created_at", "created_at"] = "-created_at"
    owner: Omittable[uuid.UUID] = Field(default=None, description="Admins only: one owner's items")


class ItemPath(ParamModel):
    item_id: uuid.UUID


class CreateHeaders(HeaderModel):
    idempotency_key: Omittable[
        Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
    ] = Field(
        default=None,
        alias="Idempotency-Key",
        description=(
            "Repeat-safe POST: 1-255 visible ASCII characters (a random UUID is the usual "
            "choice). The same key and body again (same user, within 24 h) is the first "
            "response again; the same key with another body is 422 `idempotency_key_reused`"
        ),
    )


class ReadHeaders(HeaderModel):
    if_none_match: Omittable[EntityTagList] = Field(
        default=None,
        alias="If-None-Match",
        description="ETag(s) the client has (RFC 9110 syntax); 304 when one still matches",
    )


class UpdateHeaders(HeaderModel):
    if_match: Omittable[EntityTagList] = Field(
        default=None,
        alias="If-Match",
        description=(
            "Only update if the item still has one of these strong ETags, or exists (`*`); "
            "else 412 (RFC 9110 syntax)"
        ),
    )
