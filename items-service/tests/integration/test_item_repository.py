"""ItemRepository on PostgreSQL: the name search finds substrings; the trigram index serves it."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from items.repositories.item_repository import ItemFilter, ItemRepository
from service_kit.db import CreationOrder
from tests.factories import make_item

SEARCHED_NAMES = ("50% off", "5000 off", "a_c", "abc", "C:\\temp", "C:temp")
FILLER_ROWS = 20_000


@pytest.fixture
def repository(session: Session) -> ItemRepository:
    return ItemRepository(session)


@pytest.fixture
def searched_items(session: Session) -> None:
    """The searched names, each with another owner (the search runs across owners)."""
    for name in SEARCHED_NAMES:
        make_item(session, owner_id=uuid.uuid4(), name=name)


@pytest.fixture
def many_items(session: Session) -> None:
    """Enough rows, with statistics, that reading them all costs the planner something."""
    session.execute(
        text(
            "INSERT INTO items (public_id, name, status, owner_id, version) "
            "SELECT gen_random_uuid(), 'filler ' || n, 'draft', gen_random_uuid(), 1 "
            "FROM generate_series(1, :rows) AS n"
        ),
        {"rows": FILLER_ROWS},
    )
    session.execute(text("ANALYZE items"))


@pytest.fixture
def emitted(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) the session sends to the database."""
    sent: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        sent.append((args[2], args[3]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


def _search(repository: ItemRepository, q: str) -> list[str]:
    rows = repository.list_page(
        ItemFilter(owner_id=None, name_contains=q),
        limit=10,
        after=None,
        order=CreationOrder.NEWEST_FIRST,
    )
    return sorted(row.name for row in rows)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("50%", ["50% off"], id="percent"),
        pytest.param("a_c", ["a_c"], id="underscore"),
        pytest.param(":\\t", ["C:\\temp"], id="backslash"),
        pytest.param("OFF", ["50% off", "5000 off"], id="case-insensitive"),
        pytest.param("temp", ["C:\\temp", "C:temp"], id="substring"),
    ],
)
@pytest.mark.usefixtures("searched_items", "many_items")
def test_list_page_finds_names_containing_q_when_searching_every_owner(
    repository: ItemRepository, q: str, expected: list[str]
) -> None:
    names = _search(repository, q)

    assert names == expected


@pytest.mark.parametrize("q", ["5000", "50%", "a_c", ":\\t"])
@pytest.mark.usefixtures("searched_items", "many_items")
def test_list_page_search_reads_the_trigram_index_when_q_is_selective(
    repository: ItemRepository,
    session: Session,
    emitted: list[tuple[str, Any]],
    q: str,
) -> None:
    _search(repository, q)
    statement, parameters = emitted[-1]

    plan = session.connection().exec_driver_sql(f"EXPLAIN {statement}", parameters)

    assert "ix_items_name_trgm" in "\n".join(row[0] for row in plan)
