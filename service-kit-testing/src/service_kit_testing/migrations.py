"""Run and inspect a service's migration history the way `flask db` does, from tests."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import MetaData, inspect, text

from service_kit.db import Database
from service_kit.http.db import EXTENSION_KEY

AppFactory = Callable[[str], Flask]
"""Builds a service's app on the database at a URL, as `flask db` builds it."""


def app_database(app: Flask) -> Database:
    """The database `create_app` attached to `app`."""
    return cast(Database, app.extensions[EXTENSION_KEY])


@contextmanager
def migration_app(app_factory: AppFactory, url: str) -> Iterator[Flask]:
    """The app on `url`, inside an app context (as `flask db` runs); its pool closes after."""
    app = app_factory(url)
    try:
        with app.app_context():
            yield app
    finally:
        app_database(app).dispose()


def migrate_to_head(app_factory: AppFactory, url: str) -> None:
    """Apply every migration to the database at `url` the way `flask db upgrade` does."""
    with migration_app(app_factory, url):
        upgrade()


def table_names(app: Flask) -> set[str]:
    """The tables that exist in the app's database."""
    return set(inspect(app_database(app).engine).get_table_names())


def head_revision(app: Flask) -> str | None:
    """The newest revision in the app's migration history."""
    config = app.extensions["migrate"].migrate.get_config()
    head: str | None = ScriptDirectory.from_config(config).get_current_head()
    return head


def stamped_revision(app: Flask) -> str:
    """The revision `alembic_version` records in the app's database."""
    with app_database(app).engine.connect() as connection:
        revision: str = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar_one()
    return revision


def schema_differences(app: Flask, metadata: MetaData) -> list[Any]:
    """What `flask db migrate` would autogenerate, compared the way the project configures it."""
    options = {
        **app.extensions["migrate"].configure_args,
        "compare_type": True,
        "compare_server_default": True,
    }
    with app_database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, metadata))
