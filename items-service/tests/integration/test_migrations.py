"""The migration history: it builds the schema from nothing, undoes it, and matches the models.

The tests are the ones every service runs (`service_kit_testing.migration_tests`); this module
says what items' models are and which column no migration creates.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session

from items.models import Base, IdempotencyRecord, ItemSnapshot, ItemStatus
from service_kit.db import UTCDateTime
from service_kit_testing.migration_tests import *  # noqa: F403  (collected from here)
from service_kit_testing.migrations import app_database, stamped_revision, table_names


@pytest.fixture
def model_metadata() -> MetaData:
    return Base.metadata


@pytest.fixture
def unmigrated_column() -> tuple[str, Column[Any]]:
    return "items", Column("colour", String(20))


# --- items' own data migrations ---------------------------------------------------------------

BEFORE_ITEM_SNAPSHOTS = "6b12ee85c171"
LEGACY_ITEM = {
    "public_id": uuid.UUID("0b8f7c4e-3d0a-4a57-9a55-7d5f5c1e2a10"),
    "name": "Lamp",
    "description": "brass",
    "status": "active",
    "owner_id": uuid.UUID("6f1d2c3b-4a59-4e8d-8c7b-1a2b3c4d5e6f"),
    "version": 3,
    "created_at": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    "updated_at": datetime(2026, 1, 3, 3, 4, 5, 654321, tzinfo=UTC),
}


def _insert_legacy_record(app: Flask) -> None:
    """An item and its idempotency record as the schema before item snapshots held them."""
    legacy = MetaData()
    items = Table(
        "items",
        legacy,
        Column("id", Integer, primary_key=True),
        Column("public_id", Uuid()),
        Column("name", String(100)),
        Column("description", Text),
        Column("status", String(16)),
        Column("owner_id", Uuid()),
        Column("version", Integer),
        Column("created_at", UTCDateTime()),
        Column("updated_at", UTCDateTime()),
    )
    records = Table(
        "idempotency_records",
        legacy,
        Column("id", Integer, primary_key=True),
        Column("public_id", Uuid()),
        Column("owner_id", Uuid()),
        Column("key", String(255)),
        Column("request_hash", String(64)),
        Column("item_id", Integer),
        Column("expires_at", UTCDateTime()),
    )
    with app_database(app).engine.begin() as connection:
        item_id = connection.execute(
            insert(items).values(**LEGACY_ITEM).returning(items.c.id)
        ).scalar_one()
        connection.execute(
            insert(records).values(
                public_id=uuid.uuid4(),
                owner_id=LEGACY_ITEM["owner_id"],
                key="k",
                request_hash="0" * 64,
                item_id=item_id,
                expires_at=LEGACY_ITEM["created_at"],
            )
        )


def _stored_snapshot(app: Flask) -> ItemSnapshot | None:
    with Session(app_database(app).engine) as session:
        return session.scalars(select(IdempotencyRecord)).one().created_item()


EXPECTED_SNAPSHOT = ItemSnapshot(**{**LEGACY_ITEM, "status": ItemStatus.ACTIVE})


@pytest.mark.postgres
def test_upgrade_gives_existing_idempotency_records_their_item_when_they_predate_snapshots(
    postgres_app: Flask,
) -> None:
    upgrade(revision=BEFORE_ITEM_SNAPSHOTS)
    _insert_legacy_record(postgres_app)

    upgrade()

    assert _stored_snapshot(postgres_app) == EXPECTED_SNAPSHOT


def test_upgrade_gives_existing_idempotency_records_their_item_when_sqlite_file_is_migrated(
    sqlite_app: Flask,
) -> None:
    upgrade(revision=BEFORE_ITEM_SNAPSHOTS)
    _insert_legacy_record(sqlite_app)

    upgrade()

    assert _stored_snapshot(sqlite_app) == EXPECTED_SNAPSHOT


def test_downgrade_to_base_leaves_no_application_table_when_sqlite_file_is_at_head(
    sqlite_app: Flask,
) -> None:
    upgrade()

    downgrade(revision="base")

    assert table_names(sqlite_app) <= {"alembic_version"}


# --- the trigram index of the name search (PostgreSQL only) -----------------------------------

BEFORE_TRIGRAM_INDEX = "febaf60876d8"


def _item_indexes(app: Flask) -> set[str]:
    return {index["name"] for index in inspect(app_database(app).engine).get_indexes("items")}


@pytest.mark.postgres
def test_upgrade_builds_a_valid_trigram_index_of_item_names_when_database_is_postgresql(
    postgres_app: Flask,
) -> None:
    upgrade()

    with app_database(postgres_app).engine.connect() as connection:
        definition, is_valid = connection.execute(
            text(
                "SELECT pg_get_indexdef(indexrelid), indisvalid FROM pg_index "
                "WHERE indexrelid = 'ix_items_name_trgm'::regclass"
            )
        ).one()
    assert "USING gin (name gin_trgm_ops) WHERE (deleted_at IS NULL)" in definition
    assert is_valid


def _name_statistics_target(app: Flask) -> int:
    with app_database(app).engine.connect() as connection:
        target: int = connection.execute(
            text(
                "SELECT coalesce(attstattarget, -1) FROM pg_attribute "
                "WHERE attrelid = 'items'::regclass AND attname = 'name'"
            )
        ).scalar_one()
    return target


@pytest.mark.postgres
def test_upgrade_raises_the_statistics_target_of_item_names_when_database_is_postgresql(
    postgres_app: Flask,
) -> None:
    upgrade()

    assert _name_statistics_target(postgres_app) == 10_000


@pytest.mark.postgres
def test_downgrade_drops_the_trigram_index_when_database_is_postgresql(
    postgres_app: Flask,
) -> None:
    upgrade()

    downgrade(revision=BEFORE_TRIGRAM_INDEX)

    assert "ix_items_name_trgm" not in _item_indexes(postgres_app)
    assert "ix_items_created" in _item_indexes(postgres_app)
    assert _name_statistics_target(postgres_app) == -1


@pytest.mark.postgres
def test_upgrade_replaces_an_invalid_trigram_index_when_an_earlier_build_failed(
    postgres_app: Flask,
) -> None:
    upgrade(revision=BEFORE_TRIGRAM_INDEX)
    with app_database(postgres_app).engine.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        connection.execute(text("CREATE INDEX ix_items_name_trgm ON items (name)"))
        connection.execute(
            text(
                "UPDATE pg_index SET indisvalid = false "
                "WHERE indexrelid = 'ix_items_name_trgm'::regclass"
            )
        )

    upgrade()

    with app_database(postgres_app).engine.connect() as connection:
        is_valid, method = connection.execute(
            text(
                "SELECT i.indisvalid, am.amname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
                "WHERE i.indexrelid = 'ix_items_name_trgm'::regclass"
            )
        ).one()
    assert (is_valid, method) == (True, "gin")


def test_upgrade_leaves_item_names_without_a_trigram_index_when_sqlite_file_is_migrated(
    sqlite_app: Flask,
) -> None:
    upgrade()

    assert "ix_items_name_trgm" not in _item_indexes(sqlite_app)
    assert "ix_items_created" in _item_indexes(sqlite_app)


def test_downgrade_past_the_trigram_index_keeps_the_schema_when_sqlite_file_is_at_head(
    sqlite_app: Flask,
) -> None:
    upgrade()

    downgrade(revision=BEFORE_TRIGRAM_INDEX)

    assert stamped_revision(sqlite_app) == BEFORE_TRIGRAM_INDEX
    assert "ix_items_created" in _item_indexes(sqlite_app)
