"""The migration-history tests every service runs: from nothing to head, back, and no drift.

A service runs them by importing this module's names into a test module, which pytest then
collects from there (`from service_kit_testing.migration_tests import *`). That module, or a
conftest above it, provides:
- `migrations_app_factory` (session scope): the service's app on a database URL;
- `database_prefix` (session scope): the prefix of throwaway database names;
- `model_metadata`: the metadata of the service's models;
- `unmigrated_column`: `(table name, new Column)`, a column no migration creates, which proves
  that the drift check can fail.
"""

# ruff: noqa: S101  (these are tests: asserting is what they do)

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import Column, Enum, MetaData, inspect

from service_kit_testing.migrations import (
    AppFactory,
    app_database,
    head_revision,
    migration_app,
    schema_differences,
    stamped_revision,
    table_names,
)
from service_kit_testing.postgres import PostgresServer

__all__ = [
    "empty_postgres_url",
    "postgres_app",
    "sqlite_app",
    "test_autogenerate_finds_no_difference_when_database_is_at_head",
    "test_autogenerate_finds_no_difference_when_sqlite_file_is_at_head",
    "test_autogenerate_reports_a_difference_when_a_model_column_has_no_migration",
    "test_downgrade_to_base_leaves_no_application_table_when_database_is_at_head",
    "test_every_enum_value_passes_the_migrated_check_constraints",
    "test_upgrade_creates_every_model_table_when_database_is_empty",
    "test_upgrade_creates_every_model_table_when_sqlite_file_is_empty",
    "test_upgrade_rebuilds_the_schema_when_database_was_downgraded_to_base",
    "test_upgrade_runs_each_migration_without_the_statement_timeout_when_database_is_postgresql",
    "test_upgrade_stamps_the_head_revision_when_database_is_empty",
]

VERSION_TABLE = "alembic_version"


def _migrated_tables(metadata: MetaData) -> set[str]:
    return set(metadata.tables) | {VERSION_TABLE}


@pytest.fixture
def empty_postgres_url(pg_server: PostgresServer, database_prefix: str) -> Iterator[str]:
    url = pg_server.create_database(f"{database_prefix}_migrations")
    try:
        yield url
    finally:
        pg_server.drop_database(url)


@pytest.fixture
def postgres_app(migrations_app_factory: AppFactory, empty_postgres_url: str) -> Iterator[Flask]:
    """The app on an empty PostgreSQL database, inside an app context (as `flask db` runs)."""
    with migration_app(migrations_app_factory, empty_postgres_url) as app:
        yield app


@pytest.fixture
def sqlite_app(migrations_app_factory: AppFactory, tmp_path: Path) -> Iterator[Flask]:
    """The app on an empty SQLite file: the embedded default."""
    with migration_app(migrations_app_factory, f"sqlite:///{tmp_path}/migrations.db") as app:
        yield app


@pytest.mark.postgres
def test_upgrade_runs_each_migration_without_the_statement_timeout_when_database_is_postgresql(
    postgres_app: Flask,
) -> None:
    # Requests run under a statement timeout; a migration that indexes a large table would be
    # cancelled by it. Each applied step reports the timeout its session ran under.
    timeouts: list[str] = []

    def record_timeout(*, ctx: Any, **_: Any) -> None:
        timeouts.append(ctx.connection.exec_driver_sql("SHOW statement_timeout").scalar_one())

    configure_args = postgres_app.extensions["migrate"].configure_args
    configure_args["on_version_apply"] = record_timeout
    try:
        upgrade()
    finally:
        del configure_args["on_version_apply"]

    assert timeouts
    assert set(timeouts) == {"0"}
    with app_database(postgres_app).engine.connect() as connection:
        restored = connection.exec_driver_sql("SHOW statement_timeout").scalar_one()
    assert restored != "0"


@pytest.mark.postgres
def test_upgrade_creates_every_model_table_when_database_is_empty(
    postgres_app: Flask, model_metadata: MetaData
) -> None:
    upgrade()

    assert table_names(postgres_app) == _migrated_tables(model_metadata)


@pytest.mark.postgres
def test_upgrade_stamps_the_head_revision_when_database_is_empty(postgres_app: Flask) -> None:
    upgrade()

    assert stamped_revision(postgres_app) == head_revision(postgres_app)


@pytest.mark.postgres
def test_downgrade_to_base_leaves_no_application_table_when_database_is_at_head(
    postgres_app: Flask,
) -> None:
    upgrade()

    downgrade(revision="base")

    assert table_names(postgres_app) <= {VERSION_TABLE}


@pytest.mark.postgres
def test_upgrade_rebuilds_the_schema_when_database_was_downgraded_to_base(
    postgres_app: Flask, model_metadata: MetaData
) -> None:
    upgrade()
    downgrade(revision="base")

    upgrade()

    assert table_names(postgres_app) == _migrated_tables(model_metadata)
    assert stamped_revision(postgres_app) == head_revision(postgres_app)


@pytest.mark.postgres
def test_autogenerate_finds_no_difference_when_database_is_at_head(
    postgres_app: Flask, model_metadata: MetaData
) -> None:
    upgrade()

    differences = schema_differences(postgres_app, model_metadata)

    assert differences == []


@pytest.mark.postgres
def test_autogenerate_reports_a_difference_when_a_model_column_has_no_migration(
    postgres_app: Flask, model_metadata: MetaData, unmigrated_column: tuple[str, Column[Any]]
) -> None:
    upgrade()
    table_name, column = unmigrated_column
    drifted = MetaData(naming_convention=model_metadata.naming_convention)
    for table in model_metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables[table_name].append_column(column)

    differences = schema_differences(postgres_app, drifted)

    added = [(diff[2], diff[3].name) for diff in differences if diff[0] == "add_column"]
    assert added == [(table_name, column.name)]


def test_upgrade_creates_every_model_table_when_sqlite_file_is_empty(
    sqlite_app: Flask, model_metadata: MetaData
) -> None:
    upgrade()

    assert table_names(sqlite_app) == _migrated_tables(model_metadata)
    assert stamped_revision(sqlite_app) == head_revision(sqlite_app)


def test_autogenerate_finds_no_difference_when_sqlite_file_is_at_head(
    sqlite_app: Flask, model_metadata: MetaData
) -> None:
    upgrade()

    differences = schema_differences(sqlite_app, model_metadata)

    assert differences == []


def _enum_checks(metadata: MetaData) -> list[tuple[str, str, list[str]]]:
    """(table, constraint name, values) of every enum column kept by a CHECK constraint."""
    checks = []
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type
            if isinstance(kind, Enum) and not kind.native_enum and kind.create_constraint:
                checks.append((table.name, f"ck_{table.name}_{kind.name}", list(kind.enums)))
    return checks


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_every_enum_value_passes_the_migrated_check_constraints(
    request: pytest.FixtureRequest, database: str, model_metadata: MetaData
) -> None:
    """Autogenerate compares no CHECK constraint: a member added to a model's enum needs a
    migration that widens the column's constraint (`service_kit.db.alembic_ops.allow_only`),
    or every write of the new value fails at runtime."""
    app = request.getfixturevalue("postgres_app" if database == "postgresql" else "sqlite_app")
    upgrade()
    inspector = inspect(app_database(app).engine)

    missing = []
    for table, name, values in _enum_checks(model_metadata):
        found = {
            check["name"]: check["sqltext"] for check in inspector.get_check_constraints(table)
        }
        text = found.get(name, "")
        missing += [
            f"{table}: {name} lacks {value!r}" for value in values if f"'{value}'" not in text
        ]

    assert _enum_checks(model_metadata)  # the services do keep enums this way
    assert missing == []
