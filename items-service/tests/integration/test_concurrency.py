"""items under real races: idempotent creation, conditional updates, paging during inserts.

The racing requests reach a live server on a database of this module's own, each on its own
connection: see `service_kit_testing.concurrency`.
"""

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from items import create_app
from items.models import MAX_TAGS_PER_ITEM, Item, ItemSnapshot, ItemStatus
from items.repositories.item_repository import ItemRepository
from service_kit.clock import SYSTEM_CLOCK
from service_kit.db import transaction
from service_kit_testing.auth import bearer
from service_kit_testing.concurrency import (
    JOIN_TIMEOUT_SECONDS,
    PARALLEL,
    Answer,
    all_at_once,
    live_server,
    server_errors,
)
from tests.conftest import TokenIssuer, make_settings

pytestmark = pytest.mark.postgres

REQUEST_TIMEOUT_SECONDS = 30
ORIGINAL_ITEMS = 1_000
PAGE_SIZE = 37
TIE_GROUP = 4  # items sharing one created_at, so the id tie-break decides across page edges
MAX_PAGES = 200  # far above what 1,000 items and the concurrent inserts need
MAX_CONCURRENT_INSERTS = 2_000


@dataclass(frozen=True, slots=True)
class Api:
    """The served app, reached over real HTTP connections as one user."""

    base_url: str
    issuer: TokenIssuer
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        # Tokens carry real time: the served app verifies them on the system clock.
        token = self.issuer.token(user_id=self.user_id, now=SYSTEM_CLOCK.now())
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        with requests.request(
            method,
            f"{self.base_url}/api/v1{path}",
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
            **kwargs,
        ) as response:
            return Answer.read(response)


@pytest.fixture(scope="module")
def inspection_engine(module_database_url: str) -> Iterator[Engine]:
    """A connection pool of its own to look at (and seed) what the served app sees."""
    engine = create_engine(module_database_url, pool_size=2, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def api(module_database_url: str, issuer: TokenIssuer) -> Iterator[Api]:
    settings = make_settings(
        database_url=module_database_url,
        database_pool_size=25,  # every racing request holds its own connection
        database_max_overflow=5,
    )
    app = create_app(settings, keys=issuer)
    with live_server(app, name="items-live-server") as base_url:
        yield Api(base_url, issuer)


def _create(api: Api, name: str = "first") -> Answer:
    answer = api.request("POST", "/items", json={"name": name})
    assert answer.status == 201, answer.body
    return answer


def test_concurrent_idempotent_posts_all_answer_201_with_one_item_when_key_and_body_repeat(
    api: Api,
) -> None:
    key = f"conc-{uuid.uuid4().hex}"
    body = {"name": "bought once", "description": "retried by an impatient client"}

    answers = all_at_once(
        lambda _: api.request("POST", "/items", json=body, headers={"Idempotency-Key": key})
    )

    assert [answer.status for answer in answers] == [201] * PARALLEL, answers
    assert len({answer.body["id"] for answer in answers}) == 1


def test_concurrent_idempotent_posts_all_answer_the_first_response_when_key_and_body_repeat(
    api: Api,
) -> None:
    key = f"conc-{uuid.uuid4().hex}"
    body = {"name": "bought once", "description": "retried by an impatient client"}

    answers = all_at_once(
        lambda _: api.request("POST", "/items", json=body, headers={"Idempotency-Key": key})
    )

    assert not server_errors(answers), answers
    first = answers[0]
    for answer in answers:
        assert answer.body == first.body
        assert answer.headers["Location"] == first.headers["Location"]
        assert answer.headers["ETag"] == first.headers["ETag"]


def test_concurrent_idempotent_posts_mark_all_but_the_winner_replayed_when_key_and_body_repeat(
    api: Api,
) -> None:
    key = f"conc-{uuid.uuid4().hex}"

    answers = all_at_once(
        lambda _: api.request(
            "POST", "/items", json={"name": "bought once"}, headers={"Idempotency-Key": key}
        )
    )

    assert not server_errors(answers), answers
    replayed = sorted(str(answer.headers.get("Idempotent-Replayed")) for answer in answers)
    assert replayed == ["None"] + ["true"] * (PARALLEL - 1)


def test_concurrent_idempotent_posts_store_one_item_when_key_and_body_repeat(
    api: Api, inspection_engine: Engine
) -> None:
    key = f"conc-{uuid.uuid4().hex}"
    body = {"name": "bought once"}

    answers = all_at_once(
        lambda _: api.request("POST", "/items", json=body, headers={"Idempotency-Key": key})
    )

    assert not server_errors(answers), answers
    with Session(inspection_engine) as session:
        stored = session.scalars(select(Item.public_id).where(Item.owner_id == api.user_id)).all()
    assert [str(public_id) for public_id in stored] == [answers[0].body["id"]]


def test_concurrent_patches_let_exactly_one_win_when_they_share_an_if_match(api: Api) -> None:
    created = _create(api)
    item_id, etag = created.body["id"], created.headers["ETag"]

    answers = all_at_once(
        lambda index: api.request(
            "PATCH", f"/items/{item_id}", json={"name": f"edit {index}"}, headers={"If-Match": etag}
        )
    )

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] + [412] * (PARALLEL - 1), answers
    assert {answer.code for answer in answers if answer.status == 412} == {"precondition_failed"}


def test_concurrent_patches_bump_the_version_once_when_they_share_an_if_match(
    api: Api, inspection_engine: Engine
) -> None:
    created = _create(api)
    item_id, etag = created.body["id"], created.headers["ETag"]

    answers = all_at_once(
        lambda index: api.request(
            "PATCH", f"/items/{item_id}", json={"name": f"edit {index}"}, headers={"If-Match": etag}
        )
    )

    assert not server_errors(answers), answers
    winner = next(answer for answer in answers if answer.status == 200)
    with Session(inspection_engine) as session:
        item = session.scalars(select(Item).where(Item.public_id == uuid.UUID(item_id))).one()
    assert item.version == 2
    assert item.name == winner.body["name"]
    assert winner.headers["ETag"] == '"2"'


@dataclass(frozen=True, slots=True)
class Row:
    public_id: uuid.UUID
    created_at: datetime
    id: int


def _seed_originals(engine: Engine, owner_id: uuid.UUID, start: datetime) -> list[Row]:
    """1,000 items in groups of equal created_at, microseconds apart; newest first, as listed."""
    with Session(engine) as session, transaction(session):
        ItemRepository(session).add_many(
            [
                _row(owner_id, f"original {number}", start + timedelta(microseconds=number // 4))
                for number in range(ORIGINAL_ITEMS)
            ]
        )
    return _rows(engine, owner_id)


def _row(owner_id: uuid.UUID, name: str, created_at: datetime) -> ItemSnapshot:
    return ItemSnapshot(
        public_id=uuid.uuid4(),
        name=name,
        description=None,
        status=ItemStatus.DRAFT,
        owner_id=owner_id,
        version=1,
        created_at=created_at,
        updated_at=created_at,
    )


def _rows(engine: Engine, owner_id: uuid.UUID) -> list[Row]:
    """The owner's items in the documented order, sorted here rather than by the database."""
    with Session(engine) as session:
        found = session.execute(
            select(Item.public_id, Item.created_at, Item.id).where(Item.owner_id == owner_id)
        ).all()
    rows = [Row(public_id, created_at, pk) for public_id, created_at, pk in found]
    return sorted(rows, key=lambda row: (row.created_at, row.id), reverse=True)


@dataclass
class Inserter:
    """Inserts one item at a time (own connection, own commit) until told to stop.

    The new items land among the originals: the same created_at as some (so only the id breaks
    the tie) and in between others, newer and older than wherever the pager has got to.
    """

    engine: Engine
    owner_id: uuid.UUID
    start: datetime
    stop: threading.Event = field(default_factory=threading.Event)
    first_insert: threading.Event = field(default_factory=threading.Event)
    inserted: int = 0

    def run(self) -> None:
        for number in range(MAX_CONCURRENT_INSERTS):
            if self.stop.is_set():
                return
            offset = timedelta(microseconds=(number * 7) % (ORIGINAL_ITEMS // TIE_GROUP))
            with Session(self.engine) as session, transaction(session):
                ItemRepository(session).add_many(
                    [_row(self.owner_id, f"concurrent {number}", self.start + offset)]
                )
            self.inserted += 1
            self.first_insert.set()


def _page_through(api: Api) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if cursor is not None:
            params["cursor"] = cursor
        page = api.request("GET", "/items", params=params)
        assert page.status == 200, page.body
        seen.extend(uuid.UUID(entry["id"]) for entry in page.body["data"])
        cursor = page.body["next_cursor"]
        if cursor is None:
            return seen
    pytest.fail(f"no last page after {MAX_PAGES} pages")


def test_paging_sees_every_original_item_once_in_order_when_items_are_inserted_meanwhile(
    api: Api, inspection_engine: Engine
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    originals = _seed_originals(inspection_engine, api.user_id, start)
    inserter = Inserter(inspection_engine, api.user_id, start)
    thread = threading.Thread(target=inserter.run, name="items-inserter")
    thread.start()
    try:
        assert inserter.first_insert.wait(timeout=JOIN_TIMEOUT_SECONDS)
        inserted_before = inserter.inserted

        seen = _page_through(api)

        inserted_during = inserter.inserted - inserted_before
    finally:
        inserter.stop.set()
        thread.join(timeout=JOIN_TIMEOUT_SECONDS)
    assert not thread.is_alive(), "the inserter did not stop"
    assert inserted_during > 0, "nothing was inserted while paging"
    original_ids = [row.public_id for row in originals]
    is_original = set(original_ids).__contains__
    assert [public_id for public_id in seen if is_original(public_id)] == original_ids
    assert len(seen) == len(set(seen)), "an item was listed twice"
    order = {
        row.public_id: (row.created_at, row.id) for row in _rows(inspection_engine, api.user_id)
    }
    keys = [order[public_id] for public_id in seen]
    assert keys == sorted(keys, reverse=True), "pages are not in (created_at, id) order"


def test_concurrent_tag_puts_fill_an_item_to_the_limit_and_no_further(api: Api) -> None:
    item_id = _create(api, "tag race").body["id"]
    free = 3
    for number in range(MAX_TAGS_PER_ITEM - free):
        assert api.request("PUT", f"/items/{item_id}/tags/before-{number}").status == 201

    answers = all_at_once(lambda n: api.request("PUT", f"/items/{item_id}/tags/racer-{n}"))

    assert server_errors(answers) == []
    assert sorted(answer.status for answer in answers) == [201] * free + [409] * (PARALLEL - free)
    listed = api.request("GET", f"/items/{item_id}/tags").body["data"]
    assert len(listed) == MAX_TAGS_PER_ITEM


def test_concurrent_puts_of_one_tag_add_it_once_and_all_succeed(api: Api) -> None:
    item_id = _create(api, "same tag race").body["id"]

    answers = all_at_once(lambda _: api.request("PUT", f"/items/{item_id}/tags/same"))

    assert sorted(answer.status for answer in answers) == [200] * (PARALLEL - 1) + [201]
    assert api.request("GET", f"/items/{item_id}/tags").body["data"][0]["name"] == "same"
