"""`/api/v1/items/{item_id}/tags`: the labels on an item (its owner's, or any for admins)."""

from typing import Final

from flask_openapi3.models.tag import Tag
from pydantic import TypeAdapter

from items import wiring
from items.controllers.actor import current_actor
from items.schemas.tag_schemas import ItemTagsPath, TagList, TagOut, TagPath
from service_kit.http.auth import require_auth
from service_kit.http.openapi import (
    BEARER_SECURITY,
    ApiBlueprint,
    ViewResult,
    empty_response,
    json_response,
    problem_responses,
)

_TAG_LIST: Final = TypeAdapter(list[TagOut])

tags_bp = ApiBlueprint(
    "tags",
    __name__,
    url_prefix="/api/v1/items/<item_id>/tags",
    abp_tags=[Tag(name="tags", description="Labels on the caller's items")],
    abp_security=BEARER_SECURITY,
    abp_responses=problem_responses(400, 401, 404, 413, 422, 503),
)


@tags_bp.get("", responses={200: TagList})
@require_auth
def list_tags(path: ItemTagsPath) -> ViewResult:
    """The item's tags, by name."""
    tags = wiring.tag_service().list_tags(current_actor(), path.item_id)
    return json_response(TagList(data=_TAG_LIST.validate_python(tags, from_attributes=True)))


@tags_bp.put(
    "/<tag>",
    responses={200: TagOut, 201: TagOut, **problem_responses(409, codes={409: ("too_many_tags",)})},
)
@require_auth
def add_tag(path: TagPath) -> ViewResult:
    """Put a tag on the item: 201 when added, 200 when the item had it already (a retry is
    safe); 409 `too_many_tags` at the limit (10 per item)."""
    added = wiring.tag_service().add_tag(current_actor(), path.item_id, path.tag)
    return json_response(TagOut.model_validate(added.tag), 201 if added.created else 200)


@tags_bp.delete(
    "/<tag>",
    responses={
        204: empty_response("Removed"),
        **problem_responses(404, codes={404: ("item_not_found", "tag_not_found")}),
    },
)
@require_auth
def remove_tag(path: TagPath) -> ViewResult:
    """Take the tag off the item; 404 `tag_not_found` when the item does not have it."""
    wiring.tag_service().remove_tag(current_actor(), path.item_id, path.tag)
    return "", 204
