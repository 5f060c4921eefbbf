"""Request schemas: ItemCreate / ItemUpdate bodies and the list query, validated as flask-openapi3
does (Python mode on the parsed JSON)."""

from typing import Any

import pytest
from pydantic import ValidationError

from items.models import ItemStatus
from items.schemas.item_schemas import ItemCreate, ItemListQuery, ItemUpdate


def invalid_fields(error: ValidationError) -> set[str | int]:
    """The top-level fields an error names (unions add the branch name after the field)."""
    return {detail["loc"][0] for detail in error.errors() if detail["loc"]}


def test_item_create_defaults_status_to_draft_when_status_is_absent() -> None:
    data = ItemCreate.model_validate({"name": "Lamp"})

    assert data.status is ItemStatus.DRAFT


def test_item_create_defaults_description_to_none_when_description_is_absent() -> None:
    data = ItemCreate.model_validate({"name": "Lamp"})

    assert data.description is None


@pytest.mark.parametrize("status", ["draft", "active", "archived"])
def test_item_create_accepts_status_when_it_is_a_documented_value(status: str) -> None:
    data = ItemCreate.model_validate({"name": "Lamp", "status": status})

    assert data.status == ItemStatus(status)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "x"}, id="name-1-char"),
        pytest.param({"name": "x" * 100}, id="name-100-chars"),
        pytest.param({"name": "é" * 100}, id="name-100-non-ascii-chars"),
        pytest.param({"name": "  padded  "}, id="name-with-spaces"),
        pytest.param({"name": "Lamp", "description": ""}, id="description-empty"),
        pytest.param({"name": "Lamp", "description": "d" * 2000}, id="description-2000-chars"),
        pytest.param({"name": "Lamp", "description": None}, id="description-null"),
    ],
)
def test_item_create_accepts_body_when_lengths_are_within_bounds(body: dict[str, Any]) -> None:
    data = ItemCreate.model_validate(body)

    assert data.name == body["name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "name", id="name-missing"),
        pytest.param({"name": ""}, "name", id="name-empty"),
        pytest.param({"name": "x" * 101}, "name", id="name-101-chars"),
        pytest.param({"name": None}, "name", id="name-null"),
        pytest.param({"name": False}, "name", id="name-false"),
        pytest.param({"name": 12}, "name", id="name-number"),
        pytest.param({"name": ["Lamp"]}, "name", id="name-list"),
        pytest.param({"name": "Lamp", "description": "d" * 2001}, "description", id="desc-2001"),
        pytest.param({"name": "Lamp", "description": False}, "description", id="desc-false"),
        pytest.param({"name": "Lamp", "description": 1.5}, "description", id="desc-number"),
        pytest.param({"name": "Lamp", "status": "deleted"}, "status", id="status-unknown"),
        pytest.param({"name": "Lamp", "status": "DRAFT"}, "status", id="status-uppercase"),
        pytest.param({"name": "Lamp", "status": None}, "status", id="status-null"),
        pytest.param({"name": "Lamp", "status": 1}, "status", id="status-number"),
        pytest.param({"name": "Lamp", "owner_id": "x"}, "owner_id", id="unknown-owner_id"),
        pytest.param({"name": "Lamp", "id": "x"}, "id", id="unknown-id"),
    ],
)
def test_item_create_rejects_body_when_a_field_is_invalid(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ItemCreate.model_validate(body)

    assert field in invalid_fields(caught.value)


def test_item_create_rejects_body_when_it_is_not_an_object() -> None:
    with pytest.raises(ValidationError):
        ItemCreate.model_validate(["Lamp"])


def test_item_update_records_only_sent_fields_when_body_is_partial() -> None:
    data = ItemUpdate.model_validate({"description": None})

    assert data.model_fields_set == {"description"}


def test_item_update_accepts_empty_body_when_nothing_changes() -> None:
    data = ItemUpdate.model_validate({})

    assert data.model_fields_set == set()


@pytest.mark.parametrize("field", ["name", "status"])
def test_item_update_rejects_null_when_field_is_not_nullable(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} cannot be null"):
        ItemUpdate.model_validate({field: None})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"name": ""}, "name", id="name-empty"),
        pytest.param({"name": "x" * 101}, "name", id="name-101-chars"),
        pytest.param({"name": False}, "name", id="name-false"),
        pytest.param({"name": 3}, "name", id="name-number"),
        pytest.param({"description": "d" * 2001}, "description", id="desc-2001"),
        pytest.param({"description": 0}, "description", id="desc-number"),
        pytest.param({"status": "gone"}, "status", id="status-unknown"),
        pytest.param({"version": 2}, "version", id="unknown-version"),
        pytest.param({"owner_id": "x"}, "owner_id", id="unknown-owner_id"),
    ],
)
def test_item_update_rejects_body_when_a_field_is_invalid(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ItemUpdate.model_validate(body)

    assert field in invalid_fields(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("name", "a\x00b", id="name-nul"),
        pytest.param("description", "a\x00b", id="description-nul"),
    ],
)
def test_item_create_rejects_text_when_it_contains_a_nul_character(field: str, value: str) -> None:
    body = {"name": "Lamp", field: value}

    with pytest.raises(ValidationError) as caught:
        ItemCreate.model_validate(body)

    assert field in invalid_fields(caught.value)


def test_item_list_query_uses_documented_defaults_when_no_parameters_are_given() -> None:
    query = ItemListQuery.model_validate({})

    assert (query.limit, query.sort, query.cursor, query.status, query.q) == (
        20,
        "-created_at",
        None,
        None,
        None,
    )


@pytest.mark.parametrize("limit", ["1", "100"])
def test_item_list_query_accepts_limit_when_it_is_within_1_to_100(limit: str) -> None:
    query = ItemListQuery.model_validate({"limit": limit})

    assert query.limit == int(limit)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "101"}, "limit", id="limit-101"),
        pytest.param({"limit": "-1"}, "limit", id="limit-negative"),
        pytest.param({"limit": "ten"}, "limit", id="limit-text"),
        pytest.param({"sort": "name"}, "sort", id="sort-unknown"),
        pytest.param({"sort": "-updated_at"}, "sort", id="sort-other-column"),
        pytest.param({"status": "deleted"}, "status", id="status-unknown"),
        pytest.param({"q": ""}, "q", id="q-empty"),
        pytest.param({"q": "x" * 101}, "q", id="q-too-long"),
        pytest.param({"q": "a\x00"}, "q", id="q-nul"),
        pytest.param({"owner": "not-a-uuid"}, "owner", id="owner-not-uuid"),
        pytest.param({"cursor": "has space"}, "cursor", id="cursor-bad-alphabet"),
        pytest.param({"page": "2"}, "page", id="unknown-parameter"),
    ],
)
def test_item_list_query_rejects_parameters_when_a_value_is_invalid(
    params: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ItemListQuery.model_validate(params)

    assert field in invalid_fields(caught.value)
