"""Item request and response bodies, query, path and header parameters."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints
from pydantic.config import JsonDict

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
    example,
)

Name = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[Text, StringConstraints(max_length=2000)]
LaxStatus = Annotated[ItemStatus, Field(strict=False)]


_ITEM: JsonDict = {
    "id": "0b7c9d43-56f6-4a4e-9f3c-2a4a9f0c1d2e",
    "name": "Garden shears",
    "description": "Sharpened in spring",
    "status": "active",
    "owner_id": "6f1c2b8e-3d4a-4e5f-9a0b-1c2d3e4f5a6b",
    "created_at": "2026-11-30T09:15:00Z",
    "updated_at": "2026-12-01T17:40:12Z",
}


class ItemCreate(InputModel):
    """A new item; it belongs to the caller."""

    model_config = example({"name": "Garden shears", "description": "Sharpened"})

    name: Name
    description: Description | None = None
    status: LaxStatus = ItemStatus.DRAFT


class ItemUpdate(PatchModel):
    """Only the fields present change; `description: null` clears it."""

    model_config = example({"status": "archived"})

    not_nullable: ClassVar[tuple[str, ...]] = ("name", "status")

    name: Omittable[Name] = None
    description: Description | None = None
    status: Omittable[LaxStatus] = None


class ItemOut(OutputModel):
    """An item; its version is the response's `ETag`."""

    model_config = example(_ITEM)

    id: uuid.UUID = Field(validation_alias="public_id")
    name: str
    description: str | None
    status: ItemStatus
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = Field(exclude=True)  # the ETag; not part of the body


class ItemPage(OutputModel):
    """A page of items; `next_cursor` (null on the last page) asks for the next."""

    model_config = example({"data": [_ITEM], "next_cursor": None})

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
