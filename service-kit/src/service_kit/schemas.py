"""Pydantic bases for the HTTP edge: strict inputs that reject unknown fields, ORM-fed outputs."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_=-]+$")
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1-100")]


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors, strings are trimmed, no type coercion."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ParamModel(BaseModel):
    """Query and path parameters: they arrive as text, so lax parsing; unknown ones are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    """Response bodies, built from models or service results."""

    model_config = ConfigDict(from_attributes=True)


class PageQuery(ParamModel):
    limit: Limit = 20
    cursor: Cursor | None = None
