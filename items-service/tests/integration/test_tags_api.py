"""`/api/v1/items/{item_id}/tags` over HTTP: add (201, then 200), list, remove, the limit,
ownership, and the path's validation."""

import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from items.models import MAX_TAGS_PER_ITEM, ItemTag
from service_kit_testing import FakeClock
from service_kit_testing.problems import assert_problem
from tests.conftest import TokenIssuer
from tests.factories import make_deleted_item, make_item


def tags_url(item_id: object, tag: str | None = None) -> str:
    return f"/api/v1/items/{item_id}/tags" + (f"/{tag}" if tag is not None else "")


def tag_rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ItemTag)) or 0


@pytest.fixture
def other_headers(issuer: TokenIssuer) -> dict[str, str]:
    return issuer.headers(uuid.uuid4())


def test_add_tag_answers_201_with_the_tag_when_the_item_did_not_have_it(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["name"] == "urgent"
    assert set(response.get_json()) == {"name", "created_at"}


def test_add_tag_answers_200_and_adds_nothing_when_the_item_has_it_already(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    first = client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    again = client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert tag_rows(session) == 1


def test_add_tag_stamps_created_at_from_the_service_clock(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    item = make_item(session, owner_id=user_id)
    clock.advance(seconds=90)

    response = client.put(tags_url(item.public_id, "later"), headers=user_headers)

    stored = session.scalars(select(ItemTag.created_at)).one()
    assert stored == clock.now()
    assert response.get_json()["created_at"].startswith(clock.now().strftime("%Y-%m-%dT%H:%M"))


def test_list_tags_answers_the_items_tags_by_name(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    other_item = make_item(session, owner_id=user_id)
    for tag in ("zeta", "alpha", "mid-1"):
        client.put(tags_url(item.public_id, tag), headers=user_headers)
    client.put(tags_url(other_item.public_id, "elsewhere"), headers=user_headers)

    response = client.get(tags_url(item.public_id), headers=user_headers)

    assert response.status_code == 200
    assert [tag["name"] for tag in response.get_json()["data"]] == ["alpha", "mid-1", "zeta"]


def test_remove_tag_answers_204_and_the_tag_is_gone(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    response = client.delete(tags_url(item.public_id, "urgent"), headers=user_headers)

    assert response.status_code == 204
    assert client.get(tags_url(item.public_id), headers=user_headers).get_json() == {"data": []}


def test_remove_tag_answers_404_tag_not_found_when_the_item_does_not_have_it(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.delete(tags_url(item.public_id, "never"), headers=user_headers)

    assert_problem(response, 404, "tag_not_found")


def test_add_tag_answers_409_too_many_tags_at_the_limit_and_keeps_the_tags(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    for number in range(MAX_TAGS_PER_ITEM):
        assert (
            client.put(tags_url(item.public_id, f"t{number}"), headers=user_headers).status_code
            == 201
        )

    response = client.put(tags_url(item.public_id, "one-more"), headers=user_headers)

    assert_problem(response, 409, "too_many_tags")
    assert tag_rows(session) == MAX_TAGS_PER_ITEM
    # A tag the item has is still answered at the limit: a retried PUT stays safe.
    assert client.put(tags_url(item.public_id, "t0"), headers=user_headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "tag"), [("GET", None), ("PUT", "urgent"), ("DELETE", "urgent")]
)
def test_tag_endpoints_answer_404_item_not_found_for_another_users_item(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    method: str,
    tag: str | None,
) -> None:
    item = make_item(session, owner_id=user_id)
    client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    response = client.open(tags_url(item.public_id, tag), method=method, headers=other_headers)

    assert_problem(response, 404, "item_not_found")
    assert tag_rows(session) == 1


def test_tag_endpoints_answer_404_item_not_found_when_the_item_is_soft_deleted(
    client: FlaskClient,
    session: Session,
    clock: FakeClock,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
) -> None:
    item = make_deleted_item(session, owner_id=user_id, deleted_at=clock.now() - timedelta(1))

    response = client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    assert_problem(response, 404, "item_not_found")
    assert tag_rows(session) == 0


def test_admin_may_tag_any_users_item(
    client: FlaskClient, session: Session, admin_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=uuid.uuid4())

    response = client.put(tags_url(item.public_id, "reviewed"), headers=admin_headers)

    assert response.status_code == 201


@pytest.mark.parametrize("tag", ["Upper", "-leading", "under_score", "x" * 33, "sp%20ace"])
def test_add_tag_answers_422_validation_failed_when_the_tag_is_not_a_valid_name(
    client: FlaskClient,
    session: Session,
    user_id: uuid.UUID,
    user_headers: dict[str, str],
    tag: str,
) -> None:
    item = make_item(session, owner_id=user_id)

    response = client.put(tags_url(item.public_id, tag), headers=user_headers)

    assert_problem(response, 422, "validation_failed")
    assert tag_rows(session) == 0


def test_tag_endpoints_answer_401_without_a_token(client: FlaskClient) -> None:
    response = client.get(tags_url(uuid.uuid4()))

    assert_problem(response, 401, "invalid_token")


def test_deleting_an_item_for_good_takes_its_tags_with_it(
    client: FlaskClient, session: Session, user_id: uuid.UUID, user_headers: dict[str, str]
) -> None:
    item = make_item(session, owner_id=user_id)
    client.put(tags_url(item.public_id, "urgent"), headers=user_headers)

    session.delete(item)
    session.flush()

    assert tag_rows(session) == 0
