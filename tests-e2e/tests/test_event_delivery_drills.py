"""Fault drills of the integration events, end to end through the gateway, with the real broker,
databases, relay and consumer: a broker outage, a consumer SIGKILLed while it works off a
backlog, a relay SIGKILLed while it publishes one. After each: nothing lost (every outbox row
sent, every event in items' inbox), nothing applied twice (each event id once in the inbox,
one revocation per revocation event), deleted users' items erased, revoked access tokens 401 at
items.

White-box where the outcome is not visible through the API: the drills read identity's outbox
and items' inbox, revocation feed and erasure jobs (`Stack.sql`), and the relay's and the
consumer's counters (`Stack.metrics`).

Modes: the broker outage runs in both; the two kills in native mode only (`modes` marker: they
are deselected, not skipped, under STACK=compose). A kill must land while the process is
working: the drill watches the relay's metrics or items' inbox every few milliseconds and kills
the moment the first event went through, which compose's `docker compose exec` (a few hundred
milliseconds a look) cannot do; and compose's SIGKILL of a container is the same signal to the
same program, so it would cost a minute of CI for no other code path.
"""

import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from e2e.delivery import (
    Delivery,
    assert_applied_exactly_once,
    concurrently,
    delivery,
    erased_items,
    give_items,
    inbox_counts,
    items_left,
    metric_total,
    new_accounts,
    pending_outbox_events,
)
from e2e.stack import BROKER, CONSUMER, RELAY, UNIT_START_SECONDS, Stack, StackError
from e2e.typed_clients import TypedAccount, TypedClients, problem_response
from e2e.waiting import wait_until
from identity_client.api.auth import logout_all
from identity_client.api.users import delete_user, update_user
from identity_client.models import AdminUserUpdate
from items_client.api.items import list_items

pytestmark = pytest.mark.disruptive

OUTAGE_SECONDS = 20
"""How long the broker is away in the outage drill."""
RECOVERY_SECONDS = 60
"""From the broker's (or a process's) return to every effect at items."""
REFUSAL_SECONDS = 5
"""From an event's commit at items to every worker refusing the tokens it revoked."""
RELAY_BATCH = 100
"""IDENTITY_EVENTS_RELAY_BATCH_SIZE (the default): what one relay transaction publishes."""
RELAY_KILL_AFTER = 10
"""Events the relay has had confirmed when it is killed: well inside its first batch."""

OUTAGE_USERS = 50
OUTAGE_ITEMS = 3
CRASH_USERS = 20
CRASH_ITEMS = 2
EVENTS_PER_CRASH_USER = 6
"""`revoke_and_delete`: logout-all 1, deactivation 2, reactivation 1, deletion 2."""


def restarted_after(stack: Stack, unit: str) -> Iterator[None]:
    yield
    stack.start(unit)  # whatever the drill left: a no-op when it runs


@pytest.fixture
def broker_restored(stack: Stack) -> Iterator[None]:
    yield from restarted_after(stack, BROKER)


@pytest.fixture
def consumer_restored(stack: Stack) -> Iterator[None]:
    yield from restarted_after(stack, CONSUMER)


@pytest.fixture
def relay_restored(stack: Stack) -> Iterator[None]:
    yield from restarted_after(stack, RELAY)


# -- writes ------------------------------------------------------------------------------------


def deletion(admin_token: str, account: TypedAccount) -> Callable[[TypedClients], int]:
    def call(typed: TypedClients) -> int:
        admin = typed.identity_as(admin_token)
        return delete_user.sync_detailed(account.user.id, client=admin).status_code

    return call


def logout_everywhere(account: TypedAccount) -> Callable[[TypedClients], int]:
    def call(typed: TypedClients) -> int:
        user = typed.identity_as(account.tokens.access_token)
        return logout_all.sync_detailed(client=user).status_code

    return call


def revoke_and_delete(
    admin_token: str, account: TypedAccount
) -> Callable[[TypedClients], list[int]]:
    """A user's life ending in six events: logout-all, deactivation, reactivation, deletion."""

    def call(typed: TypedClients) -> list[int]:
        admin = typed.identity_as(admin_token)
        user = typed.identity_as(account.tokens.access_token)
        return [
            logout_all.sync_detailed(client=user).status_code,
            update_user.sync_detailed(
                account.user.id, client=admin, body=AdminUserUpdate(is_active=False)
            ).status_code,
            update_user.sync_detailed(
                account.user.id, client=admin, body=AdminUserUpdate(is_active=True)
            ).status_code,
            delete_user.sync_detailed(account.user.id, client=admin).status_code,
        ]

    return call


REVOKE_AND_DELETE_ANSWERS = [204, 200, 200, 204]


def crash_drill_users(stack: Stack, typed: TypedClients) -> list[TypedAccount]:
    accounts = new_accounts(typed, CRASH_USERS)
    give_items(stack.base_url, accounts, per_account=CRASH_ITEMS)
    return accounts


# -- checks ------------------------------------------------------------------------------------


def ids(accounts: Sequence[TypedAccount]) -> list[str]:
    return [str(account.user.id) for account in accounts]


def wait_until_applied_and_erased(
    stack: Stack, user_ids: Sequence[str], *, erased: Sequence[str]
) -> Delivery:
    """Wait until every event about `user_ids` is sent and in items' inbox and every item of
    `erased` is gone; what was delivered."""

    def done() -> Delivery | None:
        now = delivery(stack, user_ids)
        return now if now.is_complete and items_left(stack, erased) == 0 else None

    return wait_until(
        done,
        timeout=RECOVERY_SECONDS,
        interval=0.25,
        what="every event applied at items and the deleted users' items erased",
    )


def assert_refused_at_items(stack: Stack, tokens: Sequence[str]) -> None:
    """Every token is 401 `invalid_token` at items (within the workers' revocation poll)."""

    def refused(token: str) -> Callable[[TypedClients], int]:
        return lambda typed: list_items.sync_detailed(client=typed.items_as(token)).status_code

    wait_until(
        lambda: set(concurrently(stack.base_url, [refused(token) for token in tokens])) == {401},
        timeout=REFUSAL_SECONDS,
        what="items refusing every revoked access token",
    )
    with TypedClients(stack.base_url) as typed:
        answer = list_items.sync_detailed(client=typed.items_as(tokens[0]))
        assert problem_response(answer) == (401, "invalid_token")


def consumer_duplicates(stack: Stack) -> float:
    """Messages the running consumer found in items' inbox already (since it started)."""
    exposition = stack.metrics(CONSUMER)
    return metric_total(exposition, "integration_events_consumed_total", outcome="duplicate")


def relay_published(stack: Stack) -> float:
    """Events the running relay had confirmed by the broker; 0 before it serves its metrics."""
    try:
        exposition = stack.metrics(RELAY)
    except StackError:
        return 0
    return metric_total(exposition, "outbox_published_events_total")


# -- the drills --------------------------------------------------------------------------------


def test_events_written_during_a_broker_outage_each_take_effect_once_when_it_returns(
    stack: Stack, typed: TypedClients, admin_token: str, broker_restored: None
) -> None:
    doomed, leaving = new_accounts(typed, OUTAGE_USERS), new_accounts(typed, OUTAGE_USERS)
    give_items(stack.base_url, doomed, per_account=OUTAGE_ITEMS)
    user_ids = ids(doomed) + ids(leaving)

    stack.stop(BROKER)
    down_at = time.monotonic()
    answers = concurrently(
        stack.base_url,
        [deletion(admin_token, account) for account in doomed]
        + [logout_everywhere(account) for account in leaving],
    )
    during = delivery(stack, user_ids)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    back_at = time.monotonic()
    stack.start(BROKER)
    broker_ready = time.monotonic() - back_at
    wait_until_applied_and_erased(stack, user_ids, erased=ids(doomed))
    recovered = time.monotonic() - back_at

    assert answers == [204] * len(answers)  # identity answered every write, none with a 5xx
    # The broker really was away: every event waited in the outbox, none reached items.
    assert (len(during.events), during.sent, during.applied) == (3 * OUTAGE_USERS, 0, 0)
    assert_applied_exactly_once(stack, user_ids)
    assert erased_items(stack, ids(doomed)) == {user: [OUTAGE_ITEMS] for user in ids(doomed)}
    assert_refused_at_items(stack, [account.tokens.access_token for account in doomed + leaving])
    assert pending_outbox_events(stack) == 0
    print(
        f"broker outage of {OUTAGE_SECONDS} s ({stack.mode}): broker accepting again "
        f"{broker_ready:.1f} s after its restart began, every effect at items {recovered:.1f} s "
        "after it"
    )


@pytest.mark.modes("native")
def test_a_consumer_killed_amid_a_backlog_applies_each_event_exactly_once_after_restart(
    stack: Stack, typed: TypedClients, admin_token: str, consumer_restored: None
) -> None:
    accounts = crash_drill_users(stack, typed)
    user_ids = ids(accounts)
    stack.stop(CONSUMER)
    answers = concurrently(
        stack.base_url, [revoke_and_delete(admin_token, account) for account in accounts]
    )
    queued = wait_until(
        lambda: now if (now := delivery(stack, user_ids)).sent == len(now.events) else None,
        timeout=RECOVERY_SECONDS,
        what="the backlog published to the stopped consumer's queue",
    )

    event_ids = [event.event_id for event in queued.events]
    stack.start_in_background(CONSUMER)
    wait_until(
        lambda: inbox_counts(stack, event_ids).total() >= len(event_ids) // 4,
        timeout=UNIT_START_SECONDS,
        interval=0.01,
        what="the restarted consumer applying a quarter of its backlog",
    )
    stack.kill(CONSUMER)
    applied_at_kill = inbox_counts(stack, event_ids).total()
    stack.start(CONSUMER)
    wait_until_applied_and_erased(stack, user_ids, erased=user_ids)

    assert answers == [REVOKE_AND_DELETE_ANSWERS] * len(accounts)
    assert (len(queued.events), queued.applied) == (EVENTS_PER_CRASH_USER * len(accounts), 0)
    assert 0 < applied_at_kill < len(queued.events)  # killed with work done and work left
    assert_applied_exactly_once(stack, user_ids)
    assert erased_items(stack, user_ids) == {user: [CRASH_ITEMS] for user in user_ids}
    assert_refused_at_items(stack, [account.tokens.access_token for account in accounts])
    print(
        f"consumer killed after {applied_at_kill} of {len(queued.events)} events; the restarted "
        f"one dropped {consumer_duplicates(stack):.0f} redelivered duplicates"
    )


@pytest.mark.modes("native")
def test_a_relay_killed_amid_publishing_a_backlog_loses_nothing_and_its_repeats_are_dropped(
    stack: Stack, typed: TypedClients, admin_token: str, relay_restored: None
) -> None:
    accounts = crash_drill_users(stack, typed)
    user_ids = ids(accounts)
    # Every earlier event is out, so the backlog below is the drill's own.
    wait_until(
        lambda: pending_outbox_events(stack) == 0,
        timeout=RECOVERY_SECONDS,
        what="identity's outbox sent",
    )
    stack.stop(RELAY)
    answers = concurrently(
        stack.base_url, [revoke_and_delete(admin_token, account) for account in accounts]
    )
    backlog = delivery(stack, user_ids)
    duplicates_before = consumer_duplicates(stack)

    stack.start_in_background(RELAY)
    published = wait_until(
        lambda: published if (published := relay_published(stack)) >= RELAY_KILL_AFTER else None,
        timeout=UNIT_START_SECONDS,
        interval=0.01,
        what=f"the restarted relay publishing {RELAY_KILL_AFTER} events",
    )
    stack.kill(RELAY)
    sent_at_kill = delivery(stack, user_ids).sent
    stack.start(RELAY)
    wait_until_applied_and_erased(stack, user_ids, erased=user_ids)
    duplicates = consumer_duplicates(stack) - duplicates_before

    assert answers == [REVOKE_AND_DELETE_ANSWERS] * len(accounts)
    assert (len(backlog.events), backlog.sent) == (EVENTS_PER_CRASH_USER * len(accounts), 0)
    # Killed mid-batch: events the broker had confirmed were not marked sent yet...
    assert published > sent_at_kill
    assert_applied_exactly_once(stack, user_ids)
    # ... so the next relay published them again, and items' inbox dropped every repeat: at
    # least those, at most the one batch the killed relay had in hand.
    assert published - sent_at_kill <= duplicates <= RELAY_BATCH
    assert erased_items(stack, user_ids) == {user: [CRASH_ITEMS] for user in user_ids}
    assert_refused_at_items(stack, [account.tokens.access_token for account in accounts])
    print(
        f"relay killed with {published:.0f} events confirmed and {sent_at_kill} marked sent; "
        f"items dropped {duplicates:.0f} repeats"
    )
