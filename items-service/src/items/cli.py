"""`flask --app items ...`: migrations, seed data, housekeeping and the event consumer."""

import json
import uuid
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from items import wiring
from items.consumer import ItemsEventConsumer
from items.models import Base
from service_kit.background import stop_on_signals
from service_kit.db import Database
from service_kit.events.broker import (
    ITEMS_SUBSCRIPTION,
    BrokerUnavailableError,
    list_dead_letters,
    replay_dead_letters,
)
from service_kit.http.db import get_database, get_session
from service_kit.http.migrations import init_migrations
from service_kit.progress import progress

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
DEFAULT_METRICS_PORT = 9102


@click.command("seed")
@click.option("--owner", "owner", required=True, type=click.UUID, help="The owner's user id.")
@click.option("--count", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@with_appcontext
def seed_command(owner: uuid.UUID, count: int) -> None:
    """Create COUNT items for OWNER (bulk insert, 5,000 per transaction; a progress bar on a
    terminal, then a summary with the rate)."""
    with progress(f"seeding items for {owner}", total=count, unit=" items") as advance:
        wiring.item_service().seed_items(owner_id=owner, count=count, on_progress=advance)


idempotency_cli = AppGroup("idempotency", help="Idempotency-key housekeeping.")


@idempotency_cli.command("prune")
def idempotency_prune() -> None:
    """Delete idempotency records past their TTL, 10,000 per transaction (the stack's
    housekeeping runs it hourly); a running count on a terminal, then a summary."""
    with progress("deleting expired idempotency records", unit=" records") as advance:
        wiring.item_service().prune_idempotency_records(on_progress=advance)


events_cli = AppGroup("events", help="identity's integration events: consumer and housekeeping.")


@events_cli.command("consume")
@click.option(
    "--metrics-port",
    default=DEFAULT_METRICS_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on this port (0: none).",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics bind to."
)
def events_consume(metrics_port: int, metrics_host: str) -> None:
    """Consume identity's events until SIGTERM or SIGINT (then finish the event in hand)."""
    parts = wiring.components()
    consumer = ItemsEventConsumer(parts.settings, get_database(), clock=parts.clock)
    consumer.run(stop_on_signals(), metrics_host=metrics_host, metrics_port=metrics_port or None)


@events_cli.command("prune")
def events_prune() -> None:
    """Delete revocations no token outlives and old inbox rows (housekeeping runs it hourly)."""
    parts = wiring.components()
    service = wiring.identity_event_service(
        get_session(), settings=parts.settings, clock=parts.clock
    )
    pruned = service.prune_records()
    click.echo(f"deleted {pruned.revocations} revocations and {pruned.inbox_events} inbox events")


dead_cli = AppGroup("dead", help="The dead-letter queue of identity's events.")
events_cli.add_command(dead_cli)


def _broker_url() -> str:
    return wiring.components().settings.events_broker_url.get_secret_value()


@dead_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
def dead_list(*, as_json: bool) -> None:
    """Show the dead letters, oldest first; the queue is left as it was."""
    try:
        dead = list_dead_letters(_broker_url(), ITEMS_SUBSCRIPTION)
    except BrokerUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    for letter in dead:
        fields = {
            "event_id": letter.event_id,
            "type": letter.event_type,
            "attempts": letter.attempts,
            "error": letter.error,
        }
        if as_json:
            click.echo(json.dumps(fields))
        else:
            click.echo(
                f"{letter.event_id or '-'}  {letter.event_type or 'unreadable'}  "
                f"attempts={letter.attempts}  error={letter.error or '-'}"
            )
    if not as_json:
        click.echo(f"{len(dead)} dead letters")


@dead_cli.command("replay")
@click.option(
    "--event-id", "event_ids", multiple=True, type=click.UUID, help="Replay this one (repeatable)."
)
@click.option("--all", "replay_all", is_flag=True, help="Replay every readable dead letter.")
def dead_replay(event_ids: tuple[uuid.UUID, ...], *, replay_all: bool) -> None:
    """Put dead letters back on the queue with a fresh attempt count."""
    if bool(event_ids) == replay_all:
        raise click.UsageError("give --event-id ID (one or more) or --all")
    wanted = {str(event_id) for event_id in event_ids} if event_ids else None
    try:
        replayed = replay_dead_letters(_broker_url(), ITEMS_SUBSCRIPTION, event_ids=wanted)
    except BrokerUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"replayed {len(replayed)} dead letters")
    missing = sorted((wanted or set()) - {letter.event_id for letter in replayed})
    if missing:
        raise click.ClickException("not in the dead-letter queue: " + ", ".join(missing))


def init_cli(app: Flask, database: Database) -> None:
    init_migrations(app, database, Base.metadata, MIGRATIONS_DIR)
    app.cli.add_command(seed_command)
    app.cli.add_command(idempotency_cli)
    app.cli.add_command(events_cli)
