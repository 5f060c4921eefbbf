"""ItemService on a real database: ownership, status rules, versions, idempotency and pages."""

import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, delete, event, func, select
from sqlalchemy.orm import Session

from items.errors import (
    IdempotencyKeyReusedError,
    InvalidStatusTransitionError,
    ItemNotFoundError,
    OwnerFilterForbiddenError,
)
from items.models import IdempotencyRecord, Item, ItemStatus
from items.repositories.idempotency_repository import IdempotencyRepository
from items.schemas.item_schemas import ItemCreate, ItemUpdate
from items.services.item_service import Actor, ItemListParams, ItemService
from service_kit.db import CreationOrder, KeysetPosition
from service_kit.errors import PreconditionFailedError
from service_kit_testing import FakeClock
from tests.factories import make_deleted_item, make_item

DAY_SECONDS = 24 * 60 * 60


@pytest.fixture
def service(session: Session, clock: FakeClock) -> ItemService:
    return ItemService(session, clock=clock)


@pytest.fixture
def user() -> Actor:
    return Actor(user_id=uuid.uuid4(), is_admin=False)


@pytest.fixture
def other() -> Actor:
    return Actor(user_id=uuid.uuid4(), is_admin=False)


@pytest.fixture
def admin() -> Actor:
    return Actor(user_id=uuid.uuid4(), is_admin=True)


def count_items(session: Session, owner_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Item).where(Item.owner_id == owner_id))


def count_records(session: Session, owner_id: uuid.UUID) -> int:
    stmt = (
        select(func.count())
        .select_from(IdempotencyRecord)
        .where(IdempotencyRecord.owner_id == owner_id)
    )
    return session.scalar(stmt)


# --- create ---------------------------------------------------------------------------------


def test_create_item_stores_owner_status_and_clock_times_when_data_is_valid(
    service: ItemService, user: Actor, clock: FakeClock
) -> None:
    created = service.create_item(user, ItemCreate(name="Lamp"))

    item = created.item
    assert (item.owner_id, item.status, item.version) == (user.user_id, ItemStatus.DRAFT, 1)
    assert item.created_at == item.updated_at == clock.now()


def test_create_item_is_not_a_replay_when_no_idempotency_key_is_given(
    service: ItemService, user: Actor
) -> None:
    created = service.create_item(user, ItemCreate(name="Lamp"))

    assert created.is_replay is False


def test_create_item_returns_first_item_as_replay_when_key_and_body_repeat(
    service: ItemService, user: Actor
) -> None:
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert again.is_replay is True
    assert again.item.public_id == first.item.public_id


def test_create_item_returns_the_item_as_first_created_when_key_repeats_after_an_update(
    service: ItemService, user: Actor, clock: FakeClock
) -> None:
    created_at = clock.now()
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=5)
    service.update_item(user, first.item.public_id, ItemUpdate(name="Desk lamp"))

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert (again.item.name, again.item.version, again.item.updated_at) == ("Lamp", 1, created_at)


def test_create_item_returns_the_item_as_first_created_when_key_repeats_after_a_delete(
    service: ItemService, user: Actor, clock: FakeClock
) -> None:
    created_at = clock.now()
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=5)
    service.delete_item(user, first.item.public_id)

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert (again.item.version, again.item.updated_at) == (1, created_at)


def test_create_item_replays_the_item_as_it_is_now_when_its_record_keeps_no_snapshot(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    """A record written by the previous version, which kept no snapshot, during a rollout."""
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    record = session.scalars(select(IdempotencyRecord)).one()
    record.item_public_id = record.item_name = record.item_status = None
    record.item_version = record.item_created_at = record.item_updated_at = None
    session.flush()
    clock.advance(seconds=5)
    updated = service.update_item(user, first.item.public_id, ItemUpdate(name="Desk lamp"))

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert again.is_replay is True
    assert again.item == updated.snapshot()


def test_create_item_raises_idempotency_key_reused_when_body_differs(
    service: ItemService, user: Actor
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    with pytest.raises(IdempotencyKeyReusedError):
        service.create_item(user, ItemCreate(name="Lamp", description="x"), idempotency_key="k")


def test_create_item_treats_default_status_as_same_body_when_status_is_spelled_out(
    service: ItemService, user: Actor
) -> None:
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    again = service.create_item(
        user, ItemCreate(name="Lamp", status=ItemStatus.DRAFT), idempotency_key="k"
    )

    assert again.item.public_id == first.item.public_id


def test_create_item_creates_separate_items_when_two_users_share_a_key(
    service: ItemService, user: Actor, other: Actor
) -> None:
    mine = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    theirs = service.create_item(other, ItemCreate(name="Lamp"), idempotency_key="k")

    assert theirs.is_replay is False
    assert theirs.item.public_id != mine.item.public_id


def test_create_item_creates_a_new_item_when_idempotency_key_has_expired(
    service: ItemService, user: Actor, clock: FakeClock
) -> None:
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=DAY_SECONDS)

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert again.is_replay is False
    assert again.item.public_id != first.item.public_id


def test_create_item_replaces_the_expired_record_when_key_is_reused_after_ttl(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=DAY_SECONDS + 1)

    service.create_item(user, ItemCreate(name="Chair"), idempotency_key="k")

    assert count_records(session, user.user_id) == 1


def test_create_item_accepts_a_different_body_when_idempotency_key_has_expired(
    service: ItemService, user: Actor, clock: FakeClock
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=DAY_SECONDS + 1)

    again = service.create_item(user, ItemCreate(name="Chair"), idempotency_key="k")

    assert again.item.name == "Chair"


def test_create_item_honours_configured_ttl_when_idempotency_ttl_is_shorter(
    session: Session, clock: FakeClock, user: Actor
) -> None:
    service = ItemService(session, idempotency_ttl_seconds=60, clock=clock)
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    clock.advance(seconds=60)

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert again.item.public_id != first.item.public_id


def test_create_item_stores_nothing_when_idempotency_key_is_reused_with_another_body(
    service: ItemService, session: Session, user: Actor
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    with pytest.raises(IdempotencyKeyReusedError):
        service.create_item(user, ItemCreate(name="Chair"), idempotency_key="k")

    assert count_items(session, user.user_id) == 1


@pytest.fixture
def statements(connection: Connection) -> Iterator[list[str]]:
    """Every statement sent on the test's connection (but its savepoints), unquoted, on one
    line."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sql = " ".join(args[2].replace('"', "").split())
        if not sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO SAVEPOINT")):
            sent.append(sql)

    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


def test_create_item_with_a_new_key_is_one_statement_claiming_the_key_and_inserting_the_item(
    service: ItemService, session: Session, user: Actor, statements: list[str]
) -> None:
    created = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert len(statements) == 1
    assert "INSERT INTO idempotency_records" in statements[0]
    assert "INSERT INTO items" in statements[0]
    assert created.is_replay is False
    record = session.scalars(select(IdempotencyRecord)).one()
    item = session.scalars(select(Item)).one()
    assert (record.item_id, record.item_public_id) == (item.id, item.public_id)
    assert item.public_id == created.item.public_id


def test_create_item_with_a_held_key_writes_nothing_and_reads_the_holder(
    service: ItemService, user: Actor, statements: list[str]
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    statements.clear()

    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert len(statements) == 2
    assert statements[1].startswith("SELECT idempotency_records.")


def test_create_item_without_a_key_sends_one_insert(
    service: ItemService, user: Actor, statements: list[str]
) -> None:
    service.create_item(user, ItemCreate(name="Lamp"))

    assert len(statements) == 1
    assert statements[0].startswith("INSERT INTO items ")


def test_create_item_rolls_its_item_back_and_replays_when_the_key_is_held(
    service: ItemService, session: Session, user: Actor
) -> None:
    first = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    again = service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")

    assert again.is_replay is True
    assert again.item == first.item
    assert count_items(session, user.user_id) == 1


def test_create_item_claims_the_key_again_when_its_holder_vanished_after_the_failed_claim(
    session: Session, clock: FakeClock, user: Actor
) -> None:
    service = ItemService(session, clock=clock)
    service.create_item(user, ItemCreate(name="Lamp"), idempotency_key="k")
    real_find = IdempotencyRepository.find_by_key
    pruned: list[bool] = []

    def find_after_a_prune(repo: IdempotencyRepository, **key: Any) -> IdempotencyRecord | None:
        if not pruned:  # the holder is pruned between the failed claim and this read
            session.execute(delete(IdempotencyRecord))
            pruned.append(True)
        return real_find(repo, **key)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IdempotencyRepository, "find_by_key", find_after_a_prune)
        again = service.create_item(user, ItemCreate(name="Chair"), idempotency_key="k")

    assert again.is_replay is False
    assert again.item.name == "Chair"
    assert count_records(session, user.user_id) == 1


# --- read -----------------------------------------------------------------------------------


def test_get_item_returns_item_when_actor_owns_it(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id)

    found = service.get_item(user, item.public_id)

    assert found.id == item.id


def test_get_item_raises_item_not_found_when_item_belongs_to_another_user(
    service: ItemService, session: Session, user: Actor, other: Actor
) -> None:
    theirs = make_item(session, owner_id=other.user_id)

    with pytest.raises(ItemNotFoundError):
        service.get_item(user, theirs.public_id)


def test_get_item_returns_any_users_item_when_actor_is_admin(
    service: ItemService, session: Session, admin: Actor, other: Actor
) -> None:
    theirs = make_item(session, owner_id=other.user_id)

    found = service.get_item(admin, theirs.public_id)

    assert found.id == theirs.id


def test_get_item_raises_item_not_found_when_item_is_soft_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())

    with pytest.raises(ItemNotFoundError):
        service.get_item(user, item.public_id)


def test_get_item_raises_item_not_found_when_admin_asks_for_a_soft_deleted_item(
    service: ItemService, session: Session, admin: Actor, other: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=other.user_id, deleted_at=clock.now())

    with pytest.raises(ItemNotFoundError):
        service.get_item(admin, item.public_id)


# --- list -----------------------------------------------------------------------------------


def test_list_items_raises_owner_filter_forbidden_when_user_asks_for_another_owner(
    service: ItemService, user: Actor, other: Actor
) -> None:
    params = ItemListParams(owner_id=other.user_id)

    with pytest.raises(OwnerFilterForbiddenError):
        service.list_items(user, params, limit=10, after=None)


def test_list_items_returns_only_own_items_when_actor_is_not_admin(
    service: ItemService, session: Session, user: Actor, other: Actor
) -> None:
    mine = make_item(session, owner_id=user.user_id)
    make_item(session, owner_id=other.user_id)

    page = service.list_items(user, ItemListParams(), limit=10, after=None)

    assert [item.id for item in page.items] == [mine.id]


def test_list_items_returns_one_owners_items_when_admin_filters_by_owner(
    service: ItemService, session: Session, admin: Actor, user: Actor, other: Actor
) -> None:
    theirs = make_item(session, owner_id=other.user_id)
    make_item(session, owner_id=user.user_id)

    page = service.list_items(admin, ItemListParams(owner_id=other.user_id), limit=10, after=None)

    assert [item.id for item in page.items] == [theirs.id]


def test_list_items_returns_next_position_of_last_item_when_more_items_exist(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    items = [
        make_item(session, owner_id=user.user_id, created_at=clock.now() + timedelta(seconds=s))
        for s in range(3)
    ]

    page = service.list_items(user, ItemListParams(), limit=2, after=None)

    assert page.next_position == KeysetPosition(items[1].created_at, items[1].id)


def test_list_items_returns_no_next_position_when_page_reaches_the_end(
    service: ItemService, session: Session, user: Actor
) -> None:
    make_item(session, owner_id=user.user_id)
    make_item(session, owner_id=user.user_id)

    page = service.list_items(user, ItemListParams(), limit=2, after=None)

    assert page.next_position is None


@pytest.mark.parametrize("order", list(CreationOrder), ids=["newest-first", "oldest-first"])
def test_list_items_breaks_timestamp_ties_on_primary_key_when_items_share_created_at(
    service: ItemService, session: Session, user: Actor, clock: FakeClock, order: CreationOrder
) -> None:
    items = [make_item(session, owner_id=user.user_id, created_at=clock.now()) for _ in range(4)]
    params = ItemListParams(order=order)
    first = service.list_items(user, params, limit=2, after=None)

    second = service.list_items(user, params, limit=2, after=first.next_position)

    expected = sorted((item.id for item in items), reverse=order is CreationOrder.NEWEST_FIRST)
    assert [item.id for item in [*first.items, *second.items]] == expected


def test_list_items_skips_soft_deleted_items_when_listing(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    live = make_item(session, owner_id=user.user_id)
    make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())

    page = service.list_items(user, ItemListParams(), limit=10, after=None)

    assert [item.id for item in page.items] == [live.id]


@pytest.mark.parametrize(
    ("name_contains", "expected"),
    [
        pytest.param("50%", ["50% off"], id="percent"),
        pytest.param("a_c", ["a_c"], id="underscore"),
        pytest.param("OFF", ["50% off", "5000 off"], id="case-insensitive"),
    ],
)
def test_list_items_matches_name_literally_when_filter_has_like_wildcards(
    service: ItemService,
    session: Session,
    user: Actor,
    clock: FakeClock,
    name_contains: str,
    expected: list[str],
) -> None:
    for offset, name in enumerate(["50% off", "5000 off", "a_c", "abc"]):
        make_item(
            session,
            owner_id=user.user_id,
            name=name,
            created_at=clock.now() + timedelta(seconds=offset),
        )

    page = service.list_items(
        user,
        ItemListParams(name_contains=name_contains, order=CreationOrder.OLDEST_FIRST),
        limit=10,
        after=None,
    )

    assert [item.name for item in page.items] == expected


# --- update ---------------------------------------------------------------------------------


def test_update_item_bumps_version_and_sets_updated_at_when_a_field_changes(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_item(session, owner_id=user.user_id)
    clock.advance(seconds=5)

    updated = service.update_item(user, item.public_id, ItemUpdate(name="new"))

    assert (updated.version, updated.updated_at) == (2, clock.now())


def test_update_item_keeps_version_when_nothing_changes(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id, name="same")

    updated = service.update_item(user, item.public_id, ItemUpdate(name="same"))

    assert updated.version == 1


def test_update_item_leaves_absent_fields_alone_when_body_is_partial(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id, name="keep", description="old")

    updated = service.update_item(user, item.public_id, ItemUpdate(description="new"))

    assert (updated.name, updated.description) == ("keep", "new")


def test_update_item_raises_precondition_failed_when_expected_version_is_stale(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id)
    service.update_item(user, item.public_id, ItemUpdate(name="v2"))

    with pytest.raises(PreconditionFailedError):
        service.update_item(user, item.public_id, ItemUpdate(name="v3"), expected_versions={1})


def test_update_item_applies_change_when_expected_versions_include_current(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id)

    updated = service.update_item(
        user, item.public_id, ItemUpdate(name="new"), expected_versions={1, 5}
    )

    assert updated.name == "new"


def test_update_item_raises_precondition_failed_when_expected_versions_are_empty(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id)

    with pytest.raises(PreconditionFailedError):
        service.update_item(user, item.public_id, ItemUpdate(name="x"), expected_versions=set())


@pytest.mark.parametrize(
    ("current", "target"),
    [(ItemStatus.ACTIVE, ItemStatus.DRAFT), (ItemStatus.ARCHIVED, ItemStatus.DRAFT)],
    ids=["active->draft", "archived->draft"],
)
def test_update_item_raises_invalid_status_transition_when_transition_is_not_allowed(
    service: ItemService, session: Session, user: Actor, current: ItemStatus, target: ItemStatus
) -> None:
    item = make_item(session, owner_id=user.user_id, status=current)

    with pytest.raises(InvalidStatusTransitionError):
        service.update_item(user, item.public_id, ItemUpdate(status=target))


def test_update_item_rolls_back_other_fields_when_status_transition_is_refused(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id, name="before", status=ItemStatus.ARCHIVED)
    session.commit()  # the service's rollback would otherwise also undo the arranged row

    with pytest.raises(InvalidStatusTransitionError):
        service.update_item(user, item.public_id, ItemUpdate(name="after", status=ItemStatus.DRAFT))

    assert service.get_item(user, item.public_id).name == "before"


def test_update_item_raises_item_not_found_when_item_belongs_to_another_user(
    service: ItemService, session: Session, user: Actor, other: Actor
) -> None:
    theirs = make_item(session, owner_id=other.user_id)

    with pytest.raises(ItemNotFoundError):
        service.update_item(user, theirs.public_id, ItemUpdate(name="mine"))


# --- delete and restore ---------------------------------------------------------------------


def test_delete_item_marks_item_deleted_at_clock_time_when_item_is_live(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_item(session, owner_id=user.user_id)

    service.delete_item(user, item.public_id)

    session.refresh(item)
    assert item.deleted_at == clock.now()


def test_delete_item_sets_updated_at_from_the_clock_when_item_is_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_item(session, owner_id=user.user_id, created_at=clock.now())
    clock.advance(seconds=30)

    service.delete_item(user, item.public_id)

    session.refresh(item)
    assert item.updated_at == clock.now()


def test_delete_item_bumps_version_when_item_is_deleted(
    service: ItemService, session: Session, user: Actor
) -> None:
    item = make_item(session, owner_id=user.user_id)

    service.delete_item(user, item.public_id)

    session.refresh(item)
    assert item.version == 2


def test_delete_item_raises_item_not_found_when_item_is_already_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())

    with pytest.raises(ItemNotFoundError):
        service.delete_item(user, item.public_id)


def test_delete_item_raises_item_not_found_when_item_belongs_to_another_user(
    service: ItemService, session: Session, user: Actor, other: Actor
) -> None:
    theirs = make_item(session, owner_id=other.user_id)

    with pytest.raises(ItemNotFoundError):
        service.delete_item(user, theirs.public_id)


def test_restore_item_makes_item_live_again_when_it_was_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())

    service.restore_item(user, item.public_id)

    assert service.get_item(user, item.public_id).public_id == item.public_id  # live: found


def test_restore_item_bumps_version_when_it_was_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())

    restored = service.restore_item(user, item.public_id)

    assert restored.version == 2


def test_restore_item_sets_updated_at_from_the_clock_when_it_was_deleted(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    item = make_deleted_item(session, owner_id=user.user_id, deleted_at=clock.now())
    clock.advance(seconds=30)

    restored = service.restore_item(user, item.public_id)

    assert restored.updated_at == clock.now()


def test_restore_item_returns_the_item_unchanged_when_item_is_live(
    service: ItemService, session: Session, user: Actor, clock: FakeClock
) -> None:
    created_at = clock.now()
    item = make_item(session, owner_id=user.user_id, created_at=created_at)
    clock.advance(seconds=30)

    restored = service.restore_item(user, item.public_id)

    assert (restored.version, restored.updated_at, restored.is_deleted) == (1, created_at, False)


def test_restore_item_raises_item_not_found_when_id_never_existed(
    service: ItemService, user: Actor
) -> None:
    with pytest.raises(ItemNotFoundError):
        service.restore_item(user, uuid.uuid4())


def test_restore_item_raises_item_not_found_when_deleted_item_belongs_to_another_user(
    service: ItemService, session: Session, user: Actor, other: Actor, clock: FakeClock
) -> None:
    theirs = make_deleted_item(session, owner_id=other.user_id, deleted_at=clock.now())

    with pytest.raises(ItemNotFoundError):
        service.restore_item(user, theirs.public_id)


# --- seed -----------------------------------------------------------------------------------


def test_seed_items_creates_items_in_creation_order_when_seeding_in_batches(
    service: ItemService, user: Actor
) -> None:
    service.seed_items(owner_id=user.user_id, count=5, batch_size=2)

    page = service.list_items(
        user, ItemListParams(order=CreationOrder.OLDEST_FIRST), limit=10, after=None
    )
    assert [item.name for item in page.items] == [f"Item {n}" for n in range(1, 6)]


def test_seed_items_reports_each_committed_batch(service: ItemService, user: Actor) -> None:
    reported: list[int] = []

    service.seed_items(owner_id=user.user_id, count=5, batch_size=2, on_progress=reported.append)

    assert reported == [2, 2, 1]


def test_seeding_holds_one_batch_in_memory_however_many_items(
    service: ItemService, user: Actor
) -> None:
    def peak_bytes(count: int) -> int:
        tracemalloc.start()
        try:
            service.seed_items(owner_id=user.user_id, count=count, batch_size=2_000)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    few, many = peak_bytes(4_000), peak_bytes(40_000)

    assert many < few * 1.5  # ten times the items, not ten times the memory
