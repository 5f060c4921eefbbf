"""Pydantic bases for the HTTP edge: strict inputs that reject unknown fields, ORM-fed outputs."""

from typing import Annotated, Any, ClassVar, Final, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from service_kit.db.cursor import CURSOR_PATTERN

Cursor = Annotated[
    str,
    StringConstraints(pattern=CURSOR_PATTERN),
    Field(
        description=(
            "A `next_cursor` this listing returned, as it was; any other value, even of the "
            "same form, is 422 `invalid_cursor`"
        )
    ),
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1-100")]
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
"""Client text that is stored or searched for: PostgreSQL text cannot hold NUL characters, so
the schema says so (422 instead of a database error). Add lengths with another Annotated."""

_ETAG_CHARACTER: Final = r"[\x21\x23-\x7e\x80-\xff]"
_ENTITY_TAG: Final = rf'(?:W/)?"{_ETAG_CHARACTER}*"'
ENTITY_TAG_LIST_PATTERN: Final = rf"^(?:\*|(?:{_ENTITY_TAG})?(?:[ \t]*,[ \t]*(?:{_ENTITY_TAG})?)*)$"
"""RFC 9110 `If-Match` / `If-None-Match` (section 13.1): `*`, or a list of entity tags (`"..."`
or weak `W/"..."`) separated by commas. A list may have empty elements and may be empty
altogether (section 5.6.1), so `"1",,"2"` and the empty value are valid: an empty If-Match
names no current tag (412), an empty If-None-Match none to avoid."""
EntityTagList = Annotated[str, StringConstraints(pattern=ENTITY_TAG_LIST_PATTERN)]


T = TypeVar("T")


def _without_default(schema: JsonDict) -> None:
    schema.pop("default", None)


Omittable = Annotated[T | SkipJsonSchema[None], Field(json_schema_extra=_without_default)]
"""A field that may be left out but has no null value: the schema shows neither a null branch
nor `default: null`. For a PATCH field `PatchModel` rejects an explicit null at runtime; an
optional query parameter or header cannot be null on the wire at all (a documented null would
invite clients, and fuzzers, to send the text `null`)."""


def example(value: JsonDict, **extra: Any) -> ConfigDict:
    """A body model's `model_config` that documents `value` as its example (with `extra`, more
    of its JSON Schema). flask-openapi3 keeps a schema's `example`; the document then lists it
    in `examples`, as OpenAPI 3.1 has it (`service_kit.http.openapi`)."""
    return ConfigDict(json_schema_extra={"example": value, **extra})


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors, no type coercion. Strings are taken as sent
    (trimming would make the documented lengths lie: "  a" would pass `minLength` and fail)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PatchModel(InputModel):
    """A partial update: only the fields present change. Fields typed `Omittable[...]` are
    listed in `not_nullable`: sending them as null is a 422, not a silent no-op."""

    not_nullable: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _reject_explicit_nulls(self) -> Self:
        for field in self.not_nullable:
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class _RequestPartModel(BaseModel):
    """flask-openapi3 asks a query/path/header model for its JSON schema on every request to
    map request values to fields; building that schema costs milliseconds, so the default-args
    schema is built once per class and shared (callers only read it)."""

    _schema_cache: ClassVar[dict[type[BaseModel], dict[str, Any]]] = {}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        cached = _RequestPartModel._schema_cache.get(cls)
        if cached is None:
            cached = super().model_json_schema()
            _RequestPartModel._schema_cache[cls] = cached
        return cached


class ParamModel(_RequestPartModel):
    """Query and path parameters: they arrive as text, so lax parsing; unknown ones are errors."""

    model_config = ConfigDict(extra="forbid")


class HeaderModel(_RequestPartModel):
    """Request headers: every other header is handed in too, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")


class OutputModel(BaseModel):
    """Response bodies, built from models or service results."""

    model_config = ConfigDict(from_attributes=True)


class PageQuery(ParamModel):
    limit: Limit = 20
    cursor: Omittable[Cursor] = None
