"""`/api/v1/items` over HTTP: status codes, headers, problem codes, ownership, ETags, pages."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from items import create_app
from items.config import ItemsSettings
from items.models import Item, ItemStatus
from service_kit.db import CursorCodec, Database, KeysetPosition
from service_kit_testing import FakeClock
from service_kit_testing.openapi import assert_client_ready, parameter
from service_kit_testing.problems import assert_problem
from tests.conftest import TokenIssuer
from tests.factories import make_deleted_item, make_item

ITEMS = "/api/v1/items"
DAY_SECONDS = 24 * 60 * 60
ITEM_FIELDS = {"id", "name", "description", "status", "owner_id", "created_at", "updated_at"}


def item_url(item_id: object) -> str:
    return f"{ITEMS}/{item_id}"


def restore_url(item_id: object) -> str:
    return f"{item_url(item_id)}/restore"


def json_body(response: TestResponse) -> Any:
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    return response.get_json()


def count_items(session: Session, owner_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Item).where(Item.owner_id == owner_id))


def listed_ids(response: TestResponse) -> list[str]:
    return [item["id"] for item in json_body(response)["data"]]


def at(clock: FakeClock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)


def make_item_in_state(
    session: Session, clock: FakeClock, *, owner_id: uuid.UUID, deleted: bool
) -> Item:
    """A deleted item (what restore acts on) or a live one (what every other endpoint acts on)."""
    if deleted:
        return make_deleted_item(session, owner_id=owner_id, deleted_at=clock.now())
    return make_item(session, owner_id=owner_id)


@pytest.fixture
def other_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def other_headers(issuer: TokenIssuer, other_id: uuid.UUID) -> dict[str, str]:
    return issuer.headers(other_id)


# --- create ---------------------------------------------------------------------------------


def test_create_item_answers_201_with_the_item_when_body_is_valid(
    client: FlaskClient, user_headers: dict[str, str], user_id: uuid.UUID, clock: FakeClock
) -> None:
    body = {"name": "Lamp", "description": "A desk lamp"}

    response = client.post(ITEMS, json=body, headers=user_headers)

    assert response.status_code == 201
    item = json_body(response)
    assert set(item) == ITEM_FIELDS
    assert (item["name"], item["description"], item["status"], item["owner_id"]) == (
        "Lamp",
        "A desk lamp",
        "draft",
        str(user_id),
    )
    assert datetime.fromisoformat(item["created_at"]) == clock.now()


def test_create_item_sets_location_to_the_new_item_when_created(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(ITEMS, json={"name": "Lamp"}, headers=user_headers)

    location = urlsplit(response.headers["Location"]).path
    assert location == item_url(json_body(response)["id"])
    assert client.get(location, headers=user_headers).status_code == 200


def test_create_item_sets_strong_etag_1_when_created(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(ITEMS, json={"name": "Lamp"}, headers=user_headers)

    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize("status", ["draft", "active", "archived"])
def test_create_item_stores_status_when_body_names_one(
    client: FlaskClient, user_headers: dict[str, str], status: str
) -> None:
    response = client.post(ITEMS, json={"name": "Lamp", "status": status}, headers=user_headers)

    assert response.status_code == 201
    assert json_body(response)["status"] == status


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="name-missing"),
        pytest.param({"name": ""}, id="name-empty"),
        pytest.param({"name": "x" * 101}, id="name-101-chars"),
        pytest.param({"name": None}, id="name-null"),
        pytest.param({"name": False}, id="name-false"),
        pytest.param({"name": 42}, id="name-number"),
        pytest.param({"name": "a\x00b"}, id="name-nul"),
        pytest.param({"name": "Lamp", "description": "d" * 2001}, id="description-2001-chars"),
        pytest.param({"name": "Lamp", "description": 7}, id="description-number"),
        pytest.param({"name": "Lamp", "status": "deleted"}, id="status-unknown"),
        pytest.param({"name": "Lamp", "owner_id": str(uuid.uuid4())}, id="owner-id-given"),
        pytest.param({"name": "Lamp", "colour": "red"}, id="unknown-field"),
        pytest.param(["Lamp"], id="array-body"),
    ],
)
def test_create_item_answers_422_validation_failed_when_body_is_invalid(
    client: FlaskClient,
    user_headers: dict[str, str],
    session: Session,
    user_id: uuid.UUID,
    body: Any,
) -> None:
    response = client.post(ITEMS, json=body, headers=user_headers)

    assert_problem(response, 422, "validation_failed")
    assert response.get_json()["errors"]
    assert count_items(session, user_id) == 0


def test_create_item_answers_400_malformed_json_when_body_does_not_parse(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        ITEMS, data='{"name": ', content_type="application/json", headers=user_headers
    )

    assert_problem(response, 400, "malformed_json")


def test_create_item_accepts_boundary_lengths_when_name_is_100_and_description_2000(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    body = {"name": "n" * 100, "description": "d" * 2000}

    response = client.post(ITEMS, json=body, headers=user_headers)

    assert response.status_code == 201


# --- ownership ------------------------------------------------------------------------------


# Every item endpoint, as a user would call it on someone else's item (restore takes a deleted one).
FOREIGN_ITEM_CALLS = [
    pytest.param("GET", "", None, False, id="get"),
    pytest.param("PATCH", "", {"name": "mine now"}, False, id="patch"),
    pytest.param("DELETE", "", None, False, id="delete"),
    pytest.param("POST", "/restore", None, True, id="restore"),
]


@pytest.mark.parametrize(("method", "suffix", "body", "deleted"), FOREIGN_ITEM_CALLS)
def test_item_endpoint_answers_404_item_not_found_when_item_belongs_to_another_user(
    client: FlaskClient,
    session: Session,
    other_id: uuid.UUID,
    clock: FakeClock,
    user_headers: dict[str, str],
    method: str,
    suffix: str,
    body: dict[str, str] | None,
    deleted: bool,
) -> None:
    theirs = make_item_in_state(session, clock, owner_id=other_id, deleted=deleted)

    response = client.open(
        item_url(theirs.public_id) + suffix, method=method, json=body, headers=user_headers
    )

    assert_problem(response, 404, "item_not_found")


@pytest.mark.parametrize(("method", "suffix", "body", "deleted"), FOREIGN_ITEM_CALLS)
def test_item_endpoint_answers_exactly_like_a_missing_id_when_item_belongs_to_another_user(
    client: FlaskClient,
    session: Session,
    other_id: uuid.UUID,
    clock: FakeClock,
    user_headers: dict[str, str],
    method: str,
    suffix: str,
    body: dict[str, str] | None,
    deleted: bool,
) -> None:
    theirs = make_item_in_state(session, clock, owner_id=other_id, deleted=deleted)

    foreign = client.open(
        item_url(theirs.public_id) + suffix, method=method, json=body, headers=user_headers
    )
    missing = client.open(
        item_url(uuid.uuid4()) + suffix, method=method, json=body, headers=user_headers
    )

    def comparable(response: TestResponse) -> dict[str, Any]:
        problem = response.get_json()
        return {k: v for k, v in problem.items() if k not in ("instance", "request_id")}

    assert (foreign.status_code, foreign.mimetype) == (missing.status_code, missing.mimetype)
    assert comparable(foreign) == comparable(missing)


def test_update_item_leaves_item_unchanged_when_it_belongs_to_another_user(
    client: FlaskClient, session: Session, other_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    theirs = make_item(session, owner_id=other_id, name="theirs")

    client.patch(item_url(theirs.public_id), json={"name": "mine"}, headers=user_headers)

    session.refresh(theirs)
    assert (theirs.name, theirs.version) == ("theirs", 1)


def test_list_items_omits_other_users_items_when_caller_is_not_admin(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    other_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    mine = make_item(session, owner_id=user_id)
    make_item(session, owner_id=other_id)

    response = client.get(ITEMS, headers=user_headers)

    assert listed_ids(response) == [str(mine.public_id)]


def test_list_items_answers_403_owner_filter_forbidden_when_non_admin_asks_for_another_owner(
    client: FlaskClient, other_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    response = client.get(ITEMS, query_string={"owner": str(other_id)}, headers=user_headers)

    assert_problem(response, 403, "owner_filter_forbidden")


def test_list_items_answers_own_items_when_non_admin_filters_by_own_id(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    mine = make_item(session, owner_id=user_id)

    response = client.get(ITEMS, query_string={"owner": str(user_id)}, headers=user_headers)

    assert listed_ids(response) == [str(mine.public_id)]


# --- admins ---------------------------------------------------------------------------------


def test_list_items_includes_every_owner_when_caller_is_admin(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    other_id: uuid.UUID,
    admin_headers: dict[str, str],
) -> None:
    # Far in the future, so rows other tests left committed (none should) cannot interleave.
    first = make_item(session, owner_id=user_id, created_at=at(clock, 10 * DAY_SECONDS))
    second = make_item(session, owner_id=other_id, created_at=at(clock, 10 * DAY_SECONDS + 1))

    response = client.get(ITEMS, query_string={"limit": 2}, headers=admin_headers)

    assert listed_ids(response) == [str(second.public_id), str(first.public_id)]


def test_list_items_answers_only_that_owners_items_when_admin_filters_by_owner(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    other_id: uuid.UUID,
    admin_headers: dict[str, str],
) -> None:
    theirs = make_item(session, owner_id=other_id)
    make_item(session, owner_id=user_id)

    response = client.get(ITEMS, query_string={"owner": str(other_id)}, headers=admin_headers)

    assert listed_ids(response) == [str(theirs.public_id)]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "deleted", "status"),
    [
        pytest.param("GET", "", None, False, 200, id="get"),
        pytest.param("PATCH", "", {"status": "active"}, False, 200, id="patch"),
        pytest.param("DELETE", "", None, False, 204, id="delete"),
        pytest.param("POST", "/restore", None, True, 200, id="restore"),
    ],
)
def test_item_endpoint_succeeds_when_admin_acts_on_another_users_item(
    client: FlaskClient,
    session: Session,
    other_id: uuid.UUID,
    clock: FakeClock,
    admin_headers: dict[str, str],
    method: str,
    suffix: str,
    body: dict[str, str] | None,
    deleted: bool,
    status: int,
) -> None:
    theirs = make_item_in_state(session, clock, owner_id=other_id, deleted=deleted)

    response = client.open(
        item_url(theirs.public_id) + suffix, method=method, json=body, headers=admin_headers
    )

    assert response.status_code == status


def test_update_item_keeps_owner_when_admin_changes_another_users_item(
    client: FlaskClient, session: Session, other_id: uuid.UUID, admin_headers: dict[str, str]
) -> None:
    theirs = make_item(session, owner_id=other_id)

    response = client.patch(
        item_url(theirs.public_id), json={"name": "renamed"}, headers=admin_headers
    )

    assert json_body(response)["owner_id"] == str(other_id)


# --- status transitions ---------------------------------------------------------------------

ALLOWED = [
    ("draft", "active"),
    ("draft", "archived"),
    ("active", "archived"),
    ("archived", "active"),
]
REFUSED = [("active", "draft"), ("archived", "draft")]


@pytest.mark.parametrize(
    ("current", "target"), [pytest.param(a, b, id=f"{a}->{b}") for a, b in ALLOWED]
)
def test_update_item_answers_200_with_new_status_when_transition_is_allowed(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    current: str,
    target: str,
) -> None:
    item = make_item(session, owner_id=user_id, status=ItemStatus(current))

    response = client.patch(item_url(item.public_id), json={"status": target}, headers=user_headers)

    assert response.status_code == 200
    assert json_body(response)["status"] == target


@pytest.mark.parametrize(
    ("current", "target"), [pytest.param(a, b, id=f"{a}->{b}") for a, b in REFUSED]
)
def test_update_item_answers_409_invalid_status_transition_when_transition_is_not_allowed(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    current: str,
    target: str,
) -> None:
    item = make_item(session, owner_id=user_id, status=ItemStatus(current))

    response = client.patch(item_url(item.public_id), json={"status": target}, headers=user_headers)

    assert_problem(response, 409, "invalid_status_transition")


def test_update_item_changes_nothing_when_status_transition_is_refused_with_other_fields(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id, name="before", status=ItemStatus.ACTIVE)

    client.patch(
        item_url(item.public_id), json={"name": "after", "status": "draft"}, headers=user_headers
    )

    current = json_body(client.get(item_url(item.public_id), headers=user_headers))
    assert (current["name"], current["status"]) == ("before", "active")


@pytest.mark.parametrize("status", ["draft", "active", "archived"])
def test_update_item_keeps_etag_when_status_is_set_to_the_current_one(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    status: str,
) -> None:
    item = make_item(session, owner_id=user_id, status=ItemStatus(status))

    response = client.patch(item_url(item.public_id), json={"status": status}, headers=user_headers)

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'


# --- update ---------------------------------------------------------------------------------


def test_update_item_answers_200_with_new_etag_when_a_field_changes(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.patch(item_url(item.public_id), json={"name": "new"}, headers=user_headers)

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'


def test_get_item_answers_the_new_etag_when_item_was_updated(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    patched = client.patch(item_url(item.public_id), json={"name": "n"}, headers=user_headers)

    response = client.get(item_url(item.public_id), headers=user_headers)

    assert response.headers["ETag"] == patched.headers["ETag"]
    assert response.headers["ETag"] != '"1"'


def test_update_item_clears_description_when_body_sets_it_to_null(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id, description="old")

    response = client.patch(
        item_url(item.public_id), json={"description": None}, headers=user_headers
    )

    assert json_body(response)["description"] is None


def test_update_item_sets_updated_at_from_the_clock_when_a_field_changes(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    item = make_item(session, owner_id=user_id, created_at=clock.now())
    clock.advance(seconds=60)

    response = client.patch(item_url(item.public_id), json={"name": "n"}, headers=user_headers)

    body = json_body(response)
    assert datetime.fromisoformat(body["updated_at"]) == clock.now()
    assert datetime.fromisoformat(body["created_at"]) == at(clock, -60)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": None}, id="name-null"),
        pytest.param({"status": None}, id="status-null"),
        pytest.param({"name": ""}, id="name-empty"),
        pytest.param({"name": "x" * 101}, id="name-101-chars"),
        pytest.param({"name": True}, id="name-true"),
        pytest.param({"description": "d" * 2001}, id="description-2001-chars"),
        pytest.param({"status": "deleted"}, id="status-unknown"),
        pytest.param({"version": 5}, id="unknown-field"),
    ],
)
def test_update_item_answers_422_validation_failed_when_body_is_invalid(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.patch(item_url(item.public_id), json=body, headers=user_headers)

    assert_problem(response, 422, "validation_failed")


# --- conditional requests -------------------------------------------------------------------


def test_get_item_answers_304_with_empty_body_when_if_none_match_is_current(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.get(
        item_url(item.public_id), headers={**user_headers, "If-None-Match": '"1"'}
    )

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('"2"', id="other-version"),
        pytest.param('W/"2"', id="weak-other-version"),
        pytest.param('"7", "8"', id="list-without-current"),
        pytest.param('"01"', id="leading-zero"),
        pytest.param("", id="empty-list"),
    ],
)
def test_get_item_answers_200_with_the_item_when_if_none_match_is_stale(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    header: str,
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.get(
        item_url(item.public_id), headers={**user_headers, "If-None-Match": header}
    )

    assert response.status_code == 200
    assert json_body(response)["id"] == str(item.public_id)


def test_get_item_answers_200_when_if_none_match_names_the_etag_before_an_update(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.patch(item_url(item.public_id), json={"name": "changed"}, headers=user_headers)

    response = client.get(
        item_url(item.public_id), headers={**user_headers, "If-None-Match": '"1"'}
    )

    assert response.status_code == 200
    assert json_body(response)["name"] == "changed"


def test_update_item_answers_412_precondition_failed_when_if_match_is_stale(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.patch(item_url(item.public_id), json={"name": "first"}, headers=user_headers)

    response = client.patch(
        item_url(item.public_id),
        json={"name": "second"},
        headers={**user_headers, "If-Match": '"1"'},
    )

    assert_problem(response, 412, "precondition_failed")


def test_update_item_leaves_item_unchanged_when_if_match_is_stale(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.patch(item_url(item.public_id), json={"name": "first"}, headers=user_headers)

    client.patch(
        item_url(item.public_id),
        json={"name": "second"},
        headers={**user_headers, "If-Match": '"1"'},
    )

    response = client.get(item_url(item.public_id), headers=user_headers)
    assert (json_body(response)["name"], response.headers["ETag"]) == ("first", '"2"')


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('"1"', id="current"),
        pytest.param("*", id="star"),
        pytest.param('"9", "1"', id="list-with-current"),
    ],
)
def test_update_item_answers_200_when_if_match_allows_current_version(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    header: str,
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.patch(
        item_url(item.public_id), json={"name": "new"}, headers={**user_headers, "If-Match": header}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('W/"1"', id="weak-current"),
        pytest.param('"garbage"', id="foreign-tag"),
        pytest.param('"01"', id="leading-zero"),
        pytest.param('"\xb2"', id="latin1-superscript-digit"),
        pytest.param("", id="empty-list"),
    ],
)
def test_update_item_answers_412_precondition_failed_when_if_match_has_no_strong_current_tag(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    header: str,
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.patch(
        item_url(item.public_id), json={"name": "new"}, headers={**user_headers, "If-Match": header}
    )

    assert_problem(response, 412, "precondition_failed")


@pytest.mark.parametrize(
    ("method", "header", "value"),
    [
        pytest.param("PATCH", "If-Match", "garbage", id="if-match-unquoted"),
        pytest.param("PATCH", "If-Match", "null", id="if-match-json-null-as-text"),
        pytest.param("PATCH", "If-Match", '"1" "2"', id="if-match-no-comma"),
        pytest.param("GET", "If-None-Match", "1", id="if-none-match-unquoted"),
        pytest.param("GET", "If-None-Match", '"a b"', id="if-none-match-space-in-tag"),
    ],
)
def test_item_endpoint_answers_422_validation_failed_when_precondition_is_not_rfc_9110_syntax(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    method: str,
    header: str,
    value: str,
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.open(
        item_url(item.public_id),
        method=method,
        json={"name": "new"} if method == "PATCH" else None,
        headers={**user_headers, header: value},
    )

    assert_problem(response, 422, "validation_failed")


# --- idempotent creation --------------------------------------------------------------------


def test_create_item_answers_201_with_the_same_item_when_idempotency_key_is_repeated(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    headers = {**user_headers, "Idempotency-Key": "order-42"}
    first = client.post(ITEMS, json={"name": "Lamp"}, headers=headers)

    again = client.post(ITEMS, json={"name": "Lamp"}, headers=headers)

    assert again.status_code == 201
    assert json_body(again)["id"] == json_body(first)["id"]
    assert again.headers["Location"] == first.headers["Location"]


def create_then_replay(
    client: FlaskClient, headers: dict[str, str], change: Any
) -> tuple[TestResponse, TestResponse]:
    """POST with an Idempotency-Key, `change` the created item, then repeat the POST."""
    keyed = {**headers, "Idempotency-Key": "order-42"}
    first = client.post(ITEMS, json={"name": "Lamp", "description": "brass"}, headers=keyed)
    assert first.status_code == 201, first.get_data(as_text=True)
    change(first.headers["Location"])
    again = client.post(ITEMS, json={"name": "Lamp", "description": "brass"}, headers=keyed)
    return first, again


def assert_same_response(first: TestResponse, again: TestResponse) -> None:
    assert again.status_code == first.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.mimetype == first.mimetype


def test_create_item_replays_the_first_response_when_the_item_was_changed_since(
    client: FlaskClient, user_headers: dict[str, str], clock: FakeClock
) -> None:
    def rename(location: str) -> None:
        clock.advance(seconds=5)
        patched = client.patch(
            location, json={"name": "Desk lamp", "status": "active"}, headers=user_headers
        )
        assert patched.status_code == 200

    first, again = create_then_replay(client, user_headers, rename)

    assert_same_response(first, again)


def test_create_item_replays_the_first_response_when_the_item_was_deleted_since(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    def delete(location: str) -> None:
        assert client.delete(location, headers=user_headers).status_code == 204

    first, again = create_then_replay(client, user_headers, delete)

    assert_same_response(first, again)


def test_create_item_marks_the_answer_as_replayed_when_idempotency_key_is_repeated(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    first, again = create_then_replay(client, user_headers, lambda _location: None)

    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"


def test_create_item_exposes_the_replay_marker_to_browsers_when_cors_is_configured(
    settings: ItemsSettings,
    rollback_database: Database,
    clock: FakeClock,
    issuer: TokenIssuer,
    user_headers: dict[str, str],
) -> None:
    origin = "https://app.example"
    cors_settings = settings.model_copy(update={"cors_origins": [origin]})
    browser = create_app(cors_settings, clock=clock, database=rollback_database, keys=issuer)

    response = browser.test_client().post(
        ITEMS, json={"name": "Lamp"}, headers={**user_headers, "Origin": origin}
    )

    exposed = {
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert "Idempotent-Replayed" in exposed


def test_create_item_stores_one_row_when_idempotency_key_is_repeated(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    headers = {**user_headers, "Idempotency-Key": "order-42"}

    for _ in range(3):
        client.post(ITEMS, json={"name": "Lamp"}, headers=headers)

    assert count_items(session, user_id) == 1


def test_create_item_answers_422_idempotency_key_reused_when_body_differs(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    headers = {**user_headers, "Idempotency-Key": "order-42"}
    client.post(ITEMS, json={"name": "Lamp"}, headers=headers)

    response = client.post(ITEMS, json={"name": "Chair"}, headers=headers)

    assert_problem(response, 422, "idempotency_key_reused")
    assert count_items(session, user_id) == 1


def test_create_item_creates_a_separate_item_when_another_user_sends_the_same_key(
    client: FlaskClient,
    session: Session,
    other_id: uuid.UUID,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    mine = client.post(
        ITEMS, json={"name": "Lamp"}, headers={**user_headers, "Idempotency-Key": "k-1"}
    )

    theirs = client.post(
        ITEMS, json={"name": "Lamp"}, headers={**other_headers, "Idempotency-Key": "k-1"}
    )

    assert theirs.status_code == 201
    assert json_body(theirs)["id"] != json_body(mine)["id"]
    assert json_body(theirs)["owner_id"] == str(other_id)


def test_create_item_creates_a_new_item_when_idempotency_key_is_older_than_24_hours(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    issuer: TokenIssuer,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    first = client.post(
        ITEMS, json={"name": "Lamp"}, headers={**user_headers, "Idempotency-Key": "k-1"}
    )
    clock.advance(seconds=DAY_SECONDS + 1)
    fresh_headers = {**issuer.headers(user_id), "Idempotency-Key": "k-1"}

    again = client.post(ITEMS, json={"name": "Lamp"}, headers=fresh_headers)

    assert again.status_code == 201
    assert json_body(again)["id"] != json_body(first)["id"]
    assert count_items(session, user_id) == 2


def test_create_item_replays_the_first_item_when_key_is_repeated_just_under_24_hours(
    client: FlaskClient,
    clock: FakeClock,
    issuer: TokenIssuer,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    first = client.post(
        ITEMS, json={"name": "Lamp"}, headers={**user_headers, "Idempotency-Key": "k-1"}
    )
    clock.advance(seconds=DAY_SECONDS - 1)
    fresh_headers = {**issuer.headers(user_id), "Idempotency-Key": "k-1"}

    again = client.post(ITEMS, json={"name": "Lamp"}, headers=fresh_headers)

    assert json_body(again)["id"] == json_body(first)["id"]


def test_create_item_creates_separate_items_when_no_idempotency_key_is_sent(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    client.post(ITEMS, json={"name": "Lamp"}, headers=user_headers)

    client.post(ITEMS, json={"name": "Lamp"}, headers=user_headers)

    assert count_items(session, user_id) == 2


@pytest.mark.parametrize(
    "key",
    [pytest.param("has space", id="space"), pytest.param("k" * 256, id="256-chars")],
)
def test_create_item_answers_422_validation_failed_when_idempotency_key_is_malformed(
    client: FlaskClient, user_headers: dict[str, str], key: str
) -> None:
    response = client.post(
        ITEMS, json={"name": "Lamp"}, headers={**user_headers, "Idempotency-Key": key}
    )

    assert_problem(response, 422, "validation_failed")


# --- listing --------------------------------------------------------------------------------


def test_list_items_answers_a_page_object_when_caller_has_no_items(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.get(ITEMS, headers=user_headers)

    assert response.status_code == 200
    assert json_body(response) == {"data": [], "next_cursor": None}


def test_list_items_orders_newest_first_when_sort_is_not_given(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    old = make_item(session, owner_id=user_id, created_at=at(clock, -20))
    new = make_item(session, owner_id=user_id, created_at=at(clock, -10))

    response = client.get(ITEMS, headers=user_headers)

    assert listed_ids(response) == [str(new.public_id), str(old.public_id)]


def test_list_items_orders_oldest_first_when_sort_is_created_at(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    old = make_item(session, owner_id=user_id, created_at=at(clock, -20))
    new = make_item(session, owner_id=user_id, created_at=at(clock, -10))

    response = client.get(ITEMS, query_string={"sort": "created_at"}, headers=user_headers)

    assert listed_ids(response) == [str(old.public_id), str(new.public_id)]


def test_list_items_orders_by_microseconds_when_items_are_created_within_one_millisecond(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    later = make_item(session, owner_id=user_id, created_at=at(clock, 0.000002))
    earlier = make_item(session, owner_id=user_id, created_at=at(clock, 0.000001))

    response = client.get(ITEMS, query_string={"sort": "created_at"}, headers=user_headers)

    assert listed_ids(response) == [str(earlier.public_id), str(later.public_id)]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": "0"}, id="limit-0"),
        pytest.param({"limit": "101"}, id="limit-101"),
        pytest.param({"limit": "abc"}, id="limit-not-a-number"),
        pytest.param({"status": "deleted"}, id="status-unknown"),
        pytest.param({"sort": "name"}, id="sort-unknown"),
        pytest.param({"sort": "-updated_at"}, id="sort-other-column"),
        pytest.param({"q": ""}, id="q-empty"),
        pytest.param({"owner": "nobody"}, id="owner-not-a-uuid"),
        pytest.param({"color": "red"}, id="unknown-parameter"),
    ],
)
def test_list_items_answers_422_validation_failed_when_a_parameter_is_invalid(
    client: FlaskClient, user_headers: dict[str, str], params: dict[str, str]
) -> None:
    response = client.get(ITEMS, query_string=params, headers=user_headers)

    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("limit", [1, 100])
def test_list_items_answers_200_when_limit_is_at_a_bound(
    client: FlaskClient, user_headers: dict[str, str], limit: int
) -> None:
    response = client.get(ITEMS, query_string={"limit": limit}, headers=user_headers)

    assert response.status_code == 200


def _first_cursor(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    owner: uuid.UUID,
    headers: Any,
    **q: Any,
) -> str:
    for offset in range(3):
        make_item(session, owner_id=owner, created_at=at(clock, -offset))
    cursor = json_body(client.get(ITEMS, query_string={"limit": 1, **q}, headers=headers))[
        "next_cursor"
    ]
    assert isinstance(cursor, str)
    return cursor


def _tamper(cursor: str) -> str:
    middle = len(cursor) // 2
    return cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]


def test_list_items_answers_422_invalid_cursor_when_cursor_was_tampered_with(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    cursor = _first_cursor(client, session, clock, user_id, user_headers)

    response = client.get(ITEMS, query_string={"cursor": _tamper(cursor)}, headers=user_headers)

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    ("issued_for", "used_with"),
    [
        pytest.param("-created_at", "created_at", id="newest-first-cursor-used-oldest-first"),
        pytest.param("created_at", "-created_at", id="oldest-first-cursor-used-newest-first"),
    ],
)
def test_list_items_answers_422_invalid_cursor_when_cursor_is_from_the_other_sort_order(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    issued_for: str,
    used_with: str,
) -> None:
    cursor = _first_cursor(client, session, clock, user_id, user_headers, sort=issued_for)

    response = client.get(
        ITEMS, query_string={"cursor": cursor, "sort": used_with}, headers=user_headers
    )

    assert_problem(response, 422, "invalid_cursor")


# Of the documented form (59 base64url characters), but never issued by this service.
FOREIGN_CURSORS = [
    pytest.param("A" * 59, id="zeros"),
    pytest.param(
        CursorCodec("another-secret", scope="items:newest-first").encode(
            KeysetPosition(datetime(2030, 1, 1, tzinfo=UTC), 1)
        ),
        id="another-secret",
    ),
]


@pytest.mark.parametrize("cursor", FOREIGN_CURSORS)
def test_list_items_answers_422_invalid_cursor_when_cursor_was_never_issued(
    client: FlaskClient, user_headers: dict[str, str], cursor: str
) -> None:
    response = client.get(ITEMS, query_string={"cursor": cursor}, headers=user_headers)

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="plain-word"),
        pytest.param("Z0FBQUFB", id="short-base64"),
        pytest.param("null", id="json-null-as-text"),
    ],
)
def test_list_items_answers_422_validation_failed_when_cursor_lacks_the_documented_form(
    client: FlaskClient, user_headers: dict[str, str], cursor: str
) -> None:
    response = client.get(ITEMS, query_string={"cursor": cursor}, headers=user_headers)

    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("q", ["lamp", "LAMP", "aMp", "Lamp"])
def test_list_items_matches_name_case_insensitively_when_q_is_a_substring(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    q: str,
) -> None:
    lamp = make_item(session, owner_id=user_id, name="Desk Lamp")
    make_item(session, owner_id=user_id, name="Chair")

    response = client.get(ITEMS, query_string={"q": q}, headers=user_headers)

    assert listed_ids(response) == [str(lamp.public_id)]


@pytest.mark.parametrize(
    ("q", "matching", "not_matching"),
    [
        pytest.param("100%", "100% cotton", "100 cotton", id="percent"),
        pytest.param("%", "50% off", "fifty off", id="percent-alone"),
        pytest.param("a_b", "a_b", "axb", id="underscore"),
        pytest.param("_", "snake_case", "camelCase", id="underscore-alone"),
        pytest.param("\\", "back\\slash", "slash", id="backslash"),
    ],
)
def test_list_items_takes_wildcards_literally_when_q_contains_them(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    q: str,
    matching: str,
    not_matching: str,
) -> None:
    hit = make_item(session, owner_id=user_id, name=matching)
    make_item(session, owner_id=user_id, name=not_matching)

    response = client.get(ITEMS, query_string={"q": q}, headers=user_headers)

    assert listed_ids(response) == [str(hit.public_id)]


@pytest.mark.parametrize("status", ["draft", "active", "archived"])
def test_list_items_answers_only_that_status_when_status_filter_is_given(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    status: str,
) -> None:
    items = {s: make_item(session, owner_id=user_id, status=s) for s in ItemStatus}

    response = client.get(ITEMS, query_string={"status": status}, headers=user_headers)

    assert listed_ids(response) == [str(items[ItemStatus(status)].public_id)]


@pytest.mark.parametrize("sort", ["-created_at", "created_at"])
def test_list_items_visits_every_item_exactly_once_when_following_cursors(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    sort: str,
) -> None:
    # Seven items, three of them sharing one timestamp: ties must break on the primary key.
    offsets = [-5, -4, -3, -3, -3, -2, -1]
    made = [make_item(session, owner_id=user_id, created_at=at(clock, s)) for s in offsets]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3, "sort": sort}

    for _ in range(10):
        page = json_body(client.get(ITEMS, query_string=params, headers=user_headers))
        seen.extend(item["id"] for item in page["data"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    newest_first = sort == "-created_at"
    expected = sorted(made, key=lambda item: (item.created_at, item.id), reverse=newest_first)
    assert seen == [str(item.public_id) for item in expected]


def test_list_items_answers_null_next_cursor_when_page_holds_the_last_item(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    make_item(session, owner_id=user_id)
    make_item(session, owner_id=user_id)

    response = client.get(ITEMS, query_string={"limit": 2}, headers=user_headers)

    assert json_body(response)["next_cursor"] is None


def test_list_items_keeps_filters_when_following_a_cursor(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    for offset in range(4):
        make_item(
            session, owner_id=user_id, status=ItemStatus.ACTIVE, created_at=at(clock, -offset)
        )
        make_item(session, owner_id=user_id, created_at=at(clock, -offset - 0.5))
    first = json_body(
        client.get(ITEMS, query_string={"limit": 2, "status": "active"}, headers=user_headers)
    )

    second = client.get(
        ITEMS,
        query_string={"limit": 2, "status": "active", "cursor": first["next_cursor"]},
        headers=user_headers,
    )

    assert {item["status"] for item in json_body(second)["data"]} == {"active"}


# --- soft delete and restore ----------------------------------------------------------------


def test_delete_item_answers_204_with_empty_body_when_item_is_live(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.delete(item_url(item.public_id), headers=user_headers)

    assert response.status_code == 204
    assert response.data == b""


def test_get_item_answers_404_item_not_found_when_item_was_deleted(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)

    response = client.get(item_url(item.public_id), headers=user_headers)

    assert_problem(response, 404, "item_not_found")


def test_list_items_omits_item_when_it_was_deleted(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)

    response = client.get(ITEMS, headers=user_headers)

    assert listed_ids(response) == []


def test_delete_item_keeps_the_row_when_item_is_soft_deleted(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    client.delete(item_url(item.public_id), headers=user_headers)

    assert count_items(session, user_id) == 1


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("DELETE", None, id="delete-again"),
        pytest.param("PATCH", {"name": "zombie"}, id="patch"),
    ],
)
def test_item_endpoint_answers_404_item_not_found_when_item_is_deleted(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    method: str,
    body: dict[str, str] | None,
) -> None:
    item = make_deleted_item(session, owner_id=user_id, deleted_at=clock.now())

    response = client.open(item_url(item.public_id), method=method, json=body, headers=user_headers)

    assert_problem(response, 404, "item_not_found")


def test_restore_item_answers_200_with_the_item_when_item_was_deleted(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)

    response = client.post(restore_url(item.public_id), headers=user_headers)

    assert response.status_code == 200
    assert json_body(response)["id"] == str(item.public_id)
    assert response.headers["ETag"] == '"3"'


def test_get_item_answers_200_when_item_was_restored(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)
    client.post(restore_url(item.public_id), headers=user_headers)

    response = client.get(item_url(item.public_id), headers=user_headers)

    assert response.status_code == 200


def test_list_items_includes_item_when_it_was_restored(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)
    client.post(restore_url(item.public_id), headers=user_headers)

    response = client.get(ITEMS, headers=user_headers)

    assert listed_ids(response) == [str(item.public_id)]


def test_restore_item_answers_200_with_the_unchanged_item_when_item_is_live(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    before = client.get(item_url(item.public_id), headers=user_headers)

    response = client.post(restore_url(item.public_id), headers=user_headers)

    assert response.status_code == 200
    assert (json_body(response), response.headers["ETag"]) == (
        json_body(before),
        before.headers["ETag"],
    )


def test_restore_item_answers_200_with_the_item_when_a_restore_is_repeated(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.delete(item_url(item.public_id), headers=user_headers)
    first = client.post(restore_url(item.public_id), headers=user_headers)

    repeated = client.post(restore_url(item.public_id), headers=user_headers)

    assert repeated.status_code == 200
    assert (json_body(repeated), repeated.headers["ETag"]) == (
        json_body(first),
        first.headers["ETag"],
    )


def test_restore_item_answers_404_item_not_found_when_id_never_existed(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.post(restore_url(uuid.uuid4()), headers=user_headers)

    assert_problem(response, 404, "item_not_found")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_item_endpoint_answers_404_item_not_found_when_id_never_existed(
    client: FlaskClient, user_headers: dict[str, str], method: str
) -> None:
    body = {"name": "x"} if method == "PATCH" else None

    response = client.open(item_url(uuid.uuid4()), method=method, json=body, headers=user_headers)

    assert_problem(response, 404, "item_not_found")


def test_get_item_answers_a_problem_not_500_when_id_is_not_a_uuid(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.get(item_url("123"), headers=user_headers)

    assert response.status_code in (404, 422)
    assert response.mimetype == "application/problem+json"


# --- service endpoints ----------------------------------------------------------------------


def test_health_ready_answers_200_when_database_is_reachable(client: FlaskClient) -> None:
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert json_body(response)["status"] == "ok"


def test_health_live_answers_200_when_process_is_up(client: FlaskClient) -> None:
    response = client.get("/health/live")

    assert response.status_code == 200
    assert json_body(response)["status"] == "ok"


def test_openapi_lists_every_items_operation_when_document_is_requested(
    client: FlaskClient,
) -> None:
    response = client.get("/openapi.json")

    paths = json_body(response)["paths"]
    operations = {
        (path, method) for path, item in paths.items() for method in item if path.startswith(ITEMS)
    }
    assert operations == {
        (ITEMS, "post"),
        (ITEMS, "get"),
        (f"{ITEMS}/{{item_id}}", "get"),
        (f"{ITEMS}/{{item_id}}", "patch"),
        (f"{ITEMS}/{{item_id}}", "delete"),
        (f"{ITEMS}/{{item_id}}/restore", "post"),
        (f"{ITEMS}/{{item_id}}/tags", "get"),
        (f"{ITEMS}/{{item_id}}/tags/{{tag}}", "put"),
        (f"{ITEMS}/{{item_id}}/tags/{{tag}}", "delete"),
    }


def test_openapi_requires_the_bearer_scheme_when_operation_is_an_items_operation(
    client: FlaskClient,
) -> None:
    document = json_body(client.get("/openapi.json"))

    schemes = document["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, item in document["paths"].items():
        if path.startswith(ITEMS):
            for operation in item.values():
                assert operation["security"] == [{name: []}]


def _problem_codes(document: dict[str, Any], path: str, method: str, status: str) -> list[str]:
    response = document["paths"][path][method]["responses"][status]
    return list(response["x-problem-codes"])


@pytest.mark.parametrize(
    ("method", "codes"),
    [
        pytest.param("get", ["validation_failed", "invalid_cursor"], id="list"),
        pytest.param("post", ["validation_failed", "idempotency_key_reused"], id="create"),
    ],
)
def test_openapi_names_the_422_codes_when_an_operation_has_more_than_validation(
    client: FlaskClient, method: str, codes: list[str]
) -> None:
    document = json_body(client.get("/openapi.json"))

    assert _problem_codes(document, ITEMS, method, "422") == codes


def test_openapi_documents_the_cursor_form_the_service_issues_when_listing_items(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    cursor = _first_cursor(client, session, clock, user_id, user_headers)

    document = json_body(client.get("/openapi.json"))

    [parameter] = [
        p for p in document["paths"][ITEMS]["get"]["parameters"] if p["name"] == "cursor"
    ]
    assert re.fullmatch(parameter["schema"]["pattern"], cursor)


def test_openapi_is_ready_for_a_client_generator(client: FlaskClient) -> None:
    document = json_body(client.get("/openapi.json"))

    assert_client_ready(document)
    assert {"create_item", "list_items", "get_item", "update_item", "add_tag"} <= {
        op["operationId"] for item in document["paths"].values() for op in item.values()
    }
    created = document["paths"]["/api/v1/items"]["post"]["responses"]["201"]["headers"]
    assert {"Location", "ETag", "Idempotent-Replayed", "X-Request-ID"} == created.keys()


@pytest.mark.parametrize(
    ("path", "method", "name"),
    [
        pytest.param(ITEMS, "get", "cursor", id="cursor"),
        pytest.param(ITEMS, "get", "status", id="status"),
        pytest.param(ITEMS, "get", "owner", id="owner"),
        pytest.param(ITEMS, "post", "Idempotency-Key", id="idempotency-key"),
        pytest.param(f"{ITEMS}/{{item_id}}", "get", "If-None-Match", id="if-none-match"),
        pytest.param(f"{ITEMS}/{{item_id}}", "patch", "If-Match", id="if-match"),
    ],
)
def test_openapi_documents_no_null_value_when_a_parameter_is_optional(
    client: FlaskClient, path: str, method: str, name: str
) -> None:
    document = json_body(client.get("/openapi.json"))

    found = parameter(document, path, method, name)
    assert "null" not in json.dumps(found["schema"])


def test_docs_page_loads_every_asset_from_this_service_when_opened(client: FlaskClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert not [url for url in assets if urlsplit(url).netloc or url.startswith("//")]
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()


def test_metrics_answers_prometheus_text_when_scraped(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    client.get(ITEMS, headers=user_headers)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert 'route="/api/v1/items"' in response.get_data(as_text=True)


def test_every_route_answers_404_problem_not_a_redirect_when_a_slash_is_appended(
    app: OpenAPI, client: FlaskClient
) -> None:
    answers = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<[^<>]+>", str(uuid.uuid4()), rule.rule) + "/"
        method = min((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"})
        response = client.open(path, method=method)
        answers[f"{method} {path}"] = (response.status_code, response.mimetype)

    assert answers == {request: (404, "application/problem+json") for request in answers}


def test_api_answers_503_jwks_unavailable_with_retry_after_when_identity_keys_cannot_be_loaded(
    settings: ItemsSettings, rollback_database: Database, clock: FakeClock, issuer: TokenIssuer
) -> None:
    app = create_app(settings, clock=clock, database=rollback_database)  # JWKS at a closed port

    response = app.test_client().get("/api/v1/items", headers=issuer.headers(uuid.uuid4()))

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json(force=True)["code"] == "jwks_unavailable"
    assert response.headers["Retry-After"] == "10"
