"""What the fault drills of the integration events look at, white-box: identity's outbox and
items' inbox, revocation feed, erasure jobs and items (through `Stack.sql`), and what the relay
and the consumer count (through `Stack.metrics`).

The drills' users are many, and their setup goes through the gateway like any client's:
`new_accounts` keeps to the credential budget (`CREDENTIAL_PACE_PER_SECOND`), `concurrently`
sends the drill's writes at once through the generated typed clients, each call with clients of
its own.
"""

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeVar

from identity_client.api.auth import login, register
from identity_client.models import LoginRequest, TokenPairOut, UserCreate, UserOut
from items_client.api.items import create_item
from items_client.models import ItemCreate, ItemOut

from e2e.api_client import unique_email
from e2e.stack import CREDENTIAL_PACE_PER_SECOND, Stack
from e2e.typed_clients import TypedAccount, TypedClients, expect
from e2e.waiting import Pace
from service_kit.events.broker import ITEMS_SUBSCRIPTION
from service_kit.events.contract import EventType

T = TypeVar("T")

DELIVERED_TYPES: Final = tuple(kind.value for kind in ITEMS_SUBSCRIPTION.event_types)
"""The event types items subscribes to: each of them in the outbox must reach its inbox once."""
USER_REVOCATIONS: Final = (EventType.TOKENS_REVOKED.value, EventType.USER_DELETED.value)
"""Each applied one of these appends exactly one `user` row to items' revocation feed."""
WORKERS: Final = 16
"""Requests in flight at once in a drill's writes: more than both services' threads."""

_SAMPLE: Final = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL: Final = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# -- accounts and writes -----------------------------------------------------------------------


def new_accounts(typed: TypedClients, count: int) -> list[TypedAccount]:
    """`count` users registered and logged in, one after another, paced to the credential budget
    (two counted requests each: about 12 accounts a second)."""
    pace = Pace(CREDENTIAL_PACE_PER_SECOND)
    accounts = []
    for _ in range(count):
        email, password = unique_email(), f"pw-{uuid.uuid4().hex}"
        pace.wait()
        registered = register.sync(
            client=typed.identity, body=UserCreate(email=email, password=password)
        )
        user = expect(registered, UserOut)
        pace.wait()
        logged_in = login.sync(
            client=typed.identity, body=LoginRequest(email=email, password=password)
        )
        accounts.append(TypedAccount(email, password, user, expect(logged_in, TokenPairOut)))
    return accounts


def concurrently(base_url: str, calls: Sequence[Callable[[TypedClients], T]]) -> list[T]:
    """Run every call at once (`WORKERS` threads), each with typed clients of its own, closed
    when it returns; their results in the calls' order."""

    def run(call: Callable[[TypedClients], T]) -> T:
        with TypedClients(base_url) as typed:
            return call(typed)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(run, calls))


def give_items(base_url: str, accounts: Sequence[TypedAccount], *, per_account: int) -> None:
    """Each account creates `per_account` items through the gateway."""

    def create(account: TypedAccount, number: int) -> Callable[[TypedClients], None]:
        def call(typed: TypedClients) -> None:
            created = create_item.sync(
                client=typed.items_as(account.tokens.access_token),
                body=ItemCreate(name=f"drill item {number}"),
            )
            expect(created, ItemOut)

        return call

    concurrently(
        base_url,
        [create(account, number) for account in accounts for number in range(per_account)],
    )


# -- what the databases hold -------------------------------------------------------------------


def _select(
    stack: Stack, service: str, query: str, **uuids: Iterable[str]
) -> list[tuple[str, ...]]:
    """`query` on `service`'s database, each `{name}` in it replaced by a SQL list of the values
    given as `name`: each is checked to be a UUID, so none needs escaping."""
    lists = {
        name: ", ".join(f"'{uuid.UUID(value)}'" for value in values)
        for name, values in uuids.items()
    }
    return stack.sql(service, query.format(**lists))


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: str
    subject: str
    event_type: str
    is_sent: bool


def outbox_events(stack: Stack, user_ids: Iterable[str]) -> list[OutboxEvent]:
    """identity's outbox rows about these users that items subscribes to, in publishing order."""
    rows = _select(
        stack,
        "identity",
        "SELECT event_id::text, subject, event_type, "
        "CASE WHEN sent_at IS NULL THEN 'pending' ELSE 'sent' END "
        "FROM outbox WHERE subject IN ({users}) ORDER BY id",
        users=user_ids,
    )
    return [
        OutboxEvent(event_id, subject, kind, sent == "sent")
        for event_id, subject, kind, sent in rows
        if kind in DELIVERED_TYPES
    ]


def pending_outbox_events(stack: Stack) -> int:
    """identity's outbox rows the relay has not had confirmed yet, of anyone."""
    ((count,),) = stack.sql("identity", "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return int(count)


def inbox_counts(stack: Stack, event_ids: Iterable[str]) -> Counter[str]:
    """How many rows items' inbox has of each of these events (absent: none)."""
    ids = list(event_ids)
    if not ids:
        return Counter()
    rows = _select(
        stack,
        "items",
        "SELECT event_id::text, count(*) FROM event_inbox "
        "WHERE event_id IN ({events}) GROUP BY event_id",
        events=ids,
    )
    return Counter({event_id: int(count) for event_id, count in rows})


def user_revocations(stack: Stack, user_ids: Iterable[str]) -> Counter[str]:
    """How many `user` revocations items' feed holds for each of these users."""
    rows = _select(
        stack,
        "items",
        "SELECT user_id::text, count(*) FROM revocation_feed "
        "WHERE kind = 'user' AND user_id IN ({users}) GROUP BY user_id",
        users=user_ids,
    )
    return Counter({user_id: int(count) for user_id, count in rows})


def items_left(stack: Stack, owner_ids: Iterable[str]) -> int:
    """Items (soft-deleted ones too) items still holds of these owners."""
    ((count,),) = _select(
        stack, "items", "SELECT count(*) FROM items WHERE owner_id IN ({owners})", owners=owner_ids
    )
    return int(count)


def erased_items(stack: Stack, user_ids: Iterable[str]) -> dict[str, list[int]]:
    """For each of these users, the `items_erased` of each of their erasure jobs."""
    rows = _select(
        stack,
        "items",
        "SELECT user_id::text, items_erased FROM erasure_jobs WHERE user_id IN ({users})",
        users=user_ids,
    )
    jobs: dict[str, list[int]] = {}
    for user_id, erased in rows:
        jobs.setdefault(user_id, []).append(int(erased))
    return jobs


# -- what the drills check ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where the events about a drill's users are: written, sent, applied."""

    events: list[OutboxEvent]
    inbox: Counter[str]

    @property
    def sent(self) -> int:
        return sum(event.is_sent for event in self.events)

    @property
    def applied(self) -> int:
        return sum(1 for event in self.events if self.inbox[event.event_id])

    @property
    def is_complete(self) -> bool:
        return self.sent == self.applied == len(self.events)

    def __repr__(self) -> str:  # what a wait that timed out shows
        return f"Delivery(written={len(self.events)}, sent={self.sent}, applied={self.applied})"


def delivery(stack: Stack, user_ids: Sequence[str]) -> Delivery:
    events = outbox_events(stack, user_ids)
    return Delivery(events, inbox_counts(stack, (event.event_id for event in events)))


def assert_applied_exactly_once(stack: Stack, user_ids: Sequence[str]) -> Delivery:
    """Every event about these users that items subscribes to was sent, is in items' inbox
    exactly once, and had its effect once: each user has exactly one `user` revocation per
    revocation or deletion event of theirs. Returns what was checked."""
    done = delivery(stack, user_ids)
    written = [event.event_id for event in done.events]

    assert done.sent == len(written), done
    assert len(set(written)) == len(written)
    assert done.inbox == Counter(written), {
        "missing": sorted(set(written) - set(done.inbox)),
        "more than once": sorted(e for e, count in done.inbox.items() if count > 1),
    }
    expected = Counter(
        event.subject for event in done.events if event.event_type in USER_REVOCATIONS
    )
    assert user_revocations(stack, user_ids) == expected
    return done


# -- metrics -----------------------------------------------------------------------------------


def metric_total(exposition: str, name: str, **labels: str) -> float:
    """The sum of every sample called `name` whose labels include `labels`, in a Prometheus text
    exposition (0 when there is none)."""
    total = 0.0
    for line in exposition.splitlines():
        sample = _SAMPLE.match(line)
        if sample is None or sample.group(1) != name:
            continue
        found = dict(_LABEL.findall(sample.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(sample.group(3))
    return total
