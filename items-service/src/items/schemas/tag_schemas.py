"""Tag path parameters and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from items.models import TAG_PATTERN
from service_kit.schemas import OutputModel, ParamModel

TagName = Annotated[
    str,
    StringConstraints(pattern=TAG_PATTERN),
    Field(description="1-32 lowercase letters, digits and `-`, not starting with `-`"),
]


class ItemTagsPath(ParamModel):
    item_id: uuid.UUID


class TagPath(ParamModel):
    item_id: uuid.UUID
    tag: TagName


class TagOut(OutputModel):
    name: str
    created_at: datetime


class TagList(OutputModel):
    data: list[TagOut]
