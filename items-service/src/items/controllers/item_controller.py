"""`/api/v1/items`: CRUD with ownership, ETags, idempotent creation and keyset pages."""

from typing import Final

from flask import url_for
from flask_openapi3.models.tag import Tag
from pydantic import TypeAdapter

from items import wiring
from items.controllers.actor import current_actor
from items.schemas.item_schemas import (
    CreateHeaders,
    ItemCreate,
    ItemListQuery,
    ItemOut,
    ItemPage,
    ItemPath,
    ItemUpdate,
    ReadHeaders,
    UpdateHeaders,
)
from items.services.item_service import ItemListParams
from service_kit.db import CreationOrder
from service_kit.http.auth import require_auth
from service_kit.http.etags import if_match_versions, if_none_match_hits, version_etag
from service_kit.http.openapi import (
    BEARER_SECURITY,
    CURSOR_VALIDATION_CODES,
    ApiBlueprint,
    ViewResult,
    empty_response,
    json_response,
    problem_responses,
    response_headers,
)

_ITEM_LIST: Final = TypeAdapter(list[ItemOut])
REPLAYED_HEADER: Final = "Idempotent-Replayed"
"""Set (to `true`) on the answer to a repeated Idempotency-Key: the first response again."""

items_bp = ApiBlueprint(
    "items",
    __name__,
    url_prefix="/api/v1/items",
    abp_tags=[Tag(name="items", description="The caller's items (admins: everyone's)")],
    abp_security=BEARER_SECURITY,
    abp_responses=problem_responses(400, 401, 413, 422, 503),
)


def _item_response(
    item: object, status: int, *, location: bool = False, replayed: bool = False
) -> ViewResult:
    body = ItemOut.model_validate(item)
    headers = {"ETag": version_etag(body.version)}
    if location:
        headers["Location"] = url_for("items.get_item", item_id=str(body.id))
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return json_response(body, status, headers)


@items_bp.post(
    "",
    responses={
        201: ItemOut,
        **problem_responses(422, codes={422: ("validation_failed", "idempotency_key_reused")}),
    },
    openapi_extensions=response_headers({201: ("Location", "ETag", REPLAYED_HEADER)}),
)
@require_auth
def create_item(body: ItemCreate, header: CreateHeaders) -> ViewResult:
    """Create an item. Send `Idempotency-Key` to make retries safe: a repeat with the same key
    and body (within 24 h) creates nothing and gets the first response again (status, body,
    `Location`, `ETag`, even if the item changed since), marked `Idempotent-Replayed: true`."""
    created = wiring.item_service().create_item(
        current_actor(), body, idempotency_key=header.idempotency_key
    )
    return _item_response(created.item, 201, location=True, replayed=created.is_replay)


@items_bp.get(
    "",
    responses={
        200: ItemPage,
        **problem_responses(
            403, 422, codes={403: ("owner_filter_forbidden",), **CURSOR_VALIDATION_CODES}
        ),
    },
)
@require_auth
def list_items(query: ItemListQuery) -> ViewResult:
    """A page of items, newest first by default; filter by `status` and `q` (name contains)."""
    order = CreationOrder(query.sort)
    cursors = wiring.item_cursors(order)
    page = wiring.item_service().list_items(
        current_actor(),
        ItemListParams(
            status=query.status,
            name_contains=query.q,
            owner_id=query.owner,
            order=order,
        ),
        limit=query.limit,
        after=cursors.decode(query.cursor) if query.cursor else None,
    )
    return json_response(
        ItemPage(
            data=_ITEM_LIST.validate_python(page.items, from_attributes=True),
            next_cursor=cursors.encode(page.next_position) if page.next_position else None,
        )
    )


@items_bp.get(
    "/<item_id>",
    responses={200: ItemOut, 304: empty_response("Not modified"), **problem_responses(404)},
    openapi_extensions=response_headers({200: ("ETag",), 304: ("ETag",)}),
)
@require_auth
def get_item(path: ItemPath, header: ReadHeaders) -> ViewResult:
    """One item with its ETag; `If-None-Match` with that ETag answers 304."""
    item = wiring.item_service().get_item(current_actor(), path.item_id)
    etag = version_etag(item.version)
    if if_none_match_hits(header.if_none_match, etag):
        return "", 304, {"ETag": etag}
    return _item_response(item, 200)


@items_bp.patch(
    "/<item_id>",
    responses={200: ItemOut, **problem_responses(404, 409, 412)},
    openapi_extensions=response_headers({200: ("ETag",)}),
)
@require_auth
def update_item(path: ItemPath, body: ItemUpdate, header: UpdateHeaders) -> ViewResult:
    """Change name, description or status. With `If-Match`, only if unchanged since (else 412)."""
    item = wiring.item_service().update_item(
        current_actor(), path.item_id, body, expected_versions=if_match_versions(header.if_match)
    )
    return _item_response(item, 200)


@items_bp.delete("/<item_id>", responses={204: empty_response("Deleted"), **problem_responses(404)})
@require_auth
def delete_item(path: ItemPath) -> ViewResult:
    """Soft delete: the item disappears from lists and reads until restored."""
    wiring.item_service().delete_item(current_actor(), path.item_id)
    return "", 204


@items_bp.post(
    "/<item_id>/restore",
    responses={200: ItemOut, **problem_responses(404)},
    openapi_extensions=response_headers({200: ("ETag",)}),
)
@require_auth
def restore_item(path: ItemPath) -> ViewResult:
    """Undo a delete. A live item is answered unchanged, so a retried restore is safe."""
    return _item_response(wiring.item_service().restore_item(current_actor(), path.item_id), 200)
