"""Tag path parameters and response bodies."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic.config import JsonDict

from items.models import TAG_PATTERN
from service_kit.schemas import OutputModel, ParamModel, example

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


_TAG: JsonDict = {"name": "garden", "created_at": "2026-12-01T17:40:12Z"}


class TagOut(OutputModel):
    """A tag on an item."""

    model_config = example(_TAG)

    name: str
    created_at: datetime


class TagList(OutputModel):
    """An item's tags, by name."""

    model_config = example({"data": [_TAG]})

    data: list[TagOut]
