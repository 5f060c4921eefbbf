"""Item status rules: which transitions `Item.can_become` allows (the rest are 409s)."""

import itertools
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from items.models import ALLOWED_TRANSITIONS, Item, ItemStatus

DESIGNED_TRANSITIONS = {
    (ItemStatus.DRAFT, ItemStatus.ACTIVE),
    (ItemStatus.DRAFT, ItemStatus.ARCHIVED),
    (ItemStatus.ACTIVE, ItemStatus.ARCHIVED),
    (ItemStatus.ARCHIVED, ItemStatus.ACTIVE),
}
EVERY_PAIR = list(itertools.product(ItemStatus, repeat=2))
STAYS = [(status, status) for status in ItemStatus]
REFUSED = [pair for pair in EVERY_PAIR if pair not in DESIGNED_TRANSITIONS and pair not in STAYS]


def item_in(status: ItemStatus) -> Item:
    return Item(name="thing", owner_id=uuid.uuid4(), status=status, version=1)


def cases(pairs: Iterable[tuple[ItemStatus, ItemStatus]]) -> list[object]:
    return [pytest.param(a, b, id=f"{a.value}->{b.value}") for a, b in sorted(pairs)]


@pytest.mark.parametrize(("current", "target"), cases(DESIGNED_TRANSITIONS))
def test_can_become_returns_true_when_transition_is_in_the_design(
    current: ItemStatus, target: ItemStatus
) -> None:
    item = item_in(current)

    allowed = item.can_become(target)

    assert allowed is True


@pytest.mark.parametrize(("current", "target"), cases(REFUSED))
def test_can_become_returns_false_when_transition_is_not_in_the_design(
    current: ItemStatus, target: ItemStatus
) -> None:
    item = item_in(current)

    allowed = item.can_become(target)

    assert allowed is False


@pytest.mark.parametrize(("current", "target"), cases(STAYS))
def test_can_become_returns_true_when_status_stays_the_same(
    current: ItemStatus, target: ItemStatus
) -> None:
    item = item_in(current)

    allowed = item.can_become(target)

    assert allowed is True


def test_allowed_transitions_equal_the_design_when_compared_as_a_table() -> None:
    table = set(ALLOWED_TRANSITIONS)

    assert table == DESIGNED_TRANSITIONS


def test_refused_transitions_are_exactly_back_to_draft_when_listing_every_pair() -> None:
    refused = set(REFUSED)

    assert refused == {
        (ItemStatus.ACTIVE, ItemStatus.DRAFT),
        (ItemStatus.ARCHIVED, ItemStatus.DRAFT),
    }


def test_record_change_adds_one_to_the_version_and_stamps_the_given_time() -> None:
    item = item_in(ItemStatus.DRAFT)
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    item.record_change(at=at)

    assert (item.version, item.updated_at) == (2, at)


@pytest.mark.parametrize("status", list(ItemStatus))
def test_status_value_is_lowercase_name_when_serialised(status: ItemStatus) -> None:
    value = str(status)

    assert value == status.name.lower()
