"""Pydantic bases for the HTTP edge: strict inputs that reject unknown fields, ORM-fed outputs."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_=-]+$")
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1-100")]
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
"""Client text that is stored or searched for: PostgreSQL text cannot hold NUL characters, so
the schema says so (422 instead of a database error). Add lengths with another Annotated."""


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors, no type coercion. Strings are taken as sent
    (trimming would make the documented lengths lie: "  a" would pass `minLength` and fail)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ParamModel(BaseModel):
    """Query and path parameters: they arrive as text, so lax parsing; unknown ones are errors."""

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    """Response bodies, built from models or service results."""

    model_config = ConfigDict(from_attributes=True)


class PageQuery(ParamModel):
    limit: Limit = 20
    cursor: Cursor | None = None
