"""The migration history: it builds the schema from nothing, undoes it, and matches the models."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from flask_openapi3.openapi import OpenAPI
from sqlalchemy import Column, MetaData, String, inspect, text

from items import create_app
from items.models import Base
from service_kit.db import Database
from service_kit.testing import PostgresServer
from tests.conftest import make_settings

MODEL_TABLES = frozenset(Base.metadata.tables)


def _migration_app(url: str) -> Iterator[tuple[OpenAPI, Database]]:
    database = Database(url, pool_size=1, max_overflow=1)
    app = create_app(make_settings(database_url=url), database=database)
    with app.app_context():
        yield app, database
    database.dispose()


@pytest.fixture
def empty_postgres_url(pg_server: PostgresServer) -> Iterator[str]:
    url = pg_server.create_database("items_migrations")
    try:
        yield url
    finally:
        pg_server.drop_database(url)


@pytest.fixture
def postgres_app(empty_postgres_url: str) -> Iterator[tuple[OpenAPI, Database]]:
    """The app on an empty PostgreSQL database, inside an app context (as `flask db` runs)."""
    yield from _migration_app(empty_postgres_url)


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[OpenAPI, Database]]:
    """The app on an empty SQLite file: the embedded default."""
    yield from _migration_app(f"sqlite:///{tmp_path}/items.db")


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def _head_revision(app: OpenAPI) -> str | None:
    config = app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head()


def _stamped_revision(database: Database) -> str:
    with database.engine.connect() as connection:
        revision: str = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar_one()
    return revision


def _schema_differences(app: OpenAPI, database: Database, metadata: MetaData) -> list[Any]:
    """What `flask db migrate` would autogenerate, compared the way the project configures it."""
    options = {
        **app.extensions["migrate"].configure_args,
        "compare_type": True,
        "compare_server_default": True,
    }
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, metadata))


@pytest.mark.postgres
def test_upgrade_creates_every_model_table_when_database_is_empty(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    _, database = postgres_app

    upgrade()

    assert _tables(database) == MODEL_TABLES | {"alembic_version"}


@pytest.mark.postgres
def test_upgrade_stamps_the_head_revision_when_database_is_empty(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    app, database = postgres_app

    upgrade()

    assert _stamped_revision(database) == _head_revision(app)


@pytest.mark.postgres
def test_downgrade_to_base_leaves_no_application_table_when_database_is_at_head(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    _, database = postgres_app
    upgrade()

    downgrade(revision="base")

    assert _tables(database) <= {"alembic_version"}


@pytest.mark.postgres
def test_upgrade_rebuilds_the_schema_when_database_was_downgraded_to_base(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    app, database = postgres_app
    upgrade()
    downgrade(revision="base")

    upgrade()

    assert _tables(database) == MODEL_TABLES | {"alembic_version"}
    assert _stamped_revision(database) == _head_revision(app)


@pytest.mark.postgres
def test_autogenerate_finds_no_difference_when_database_is_at_head(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    app, database = postgres_app
    upgrade()

    differences = _schema_differences(app, database, Base.metadata)

    assert differences == []


@pytest.mark.postgres
def test_autogenerate_reports_a_difference_when_a_model_column_has_no_migration(
    postgres_app: tuple[OpenAPI, Database],
) -> None:
    app, database = postgres_app
    upgrade()
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["items"].append_column(Column("colour", String(20)))

    differences = _schema_differences(app, database, drifted)

    added = [(diff[2], diff[3].name) for diff in differences if diff[0] == "add_column"]
    assert added == [("items", "colour")]


def test_upgrade_creates_every_model_table_when_sqlite_file_is_empty(
    sqlite_app: tuple[OpenAPI, Database],
) -> None:
    app, database = sqlite_app

    upgrade()

    assert _tables(database) == MODEL_TABLES | {"alembic_version"}
    assert _stamped_revision(database) == _head_revision(app)


def test_autogenerate_finds_no_difference_when_sqlite_file_is_at_head(
    sqlite_app: tuple[OpenAPI, Database],
) -> None:
    app, database = sqlite_app
    upgrade()

    differences = _schema_differences(app, database, Base.metadata)

    assert differences == []
