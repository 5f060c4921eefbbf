"""`flask --app items ...`: migrations, seed data and idempotency-record pruning."""

import uuid
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from items import wiring
from items.models import Base
from service_kit.db import Database
from service_kit.http.migrations import init_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@click.command("seed")
@click.option("--owner", "owner", required=True, type=click.UUID, help="The owner's user id.")
@click.option("--count", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@with_appcontext
def seed_command(owner: uuid.UUID, count: int) -> None:
    """Create COUNT items for OWNER (bulk insert)."""
    created = wiring.item_service().seed_items(owner_id=owner, count=count)
    click.echo(f"created {created} items for {owner}")


idempotency_cli = AppGroup("idempotency", help="Idempotency-key housekeeping.")


@idempotency_cli.command("prune")
def idempotency_prune() -> None:
    """Delete idempotency records past their TTL (the stack's housekeeping runs it hourly)."""
    deleted = wiring.item_service().prune_idempotency_records()
    click.echo(f"deleted {deleted} idempotency records")


def init_cli(app: Flask, database: Database) -> None:
    init_migrations(app, database, Base.metadata, MIGRATIONS_DIR)
    app.cli.add_command(seed_command)
    app.cli.add_command(idempotency_cli)
