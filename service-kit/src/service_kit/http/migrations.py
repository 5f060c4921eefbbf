"""Flask-Migrate (Alembic) wiring shared by the services: one history per service.

Flask-Migrate provides the `flask db ...` commands and the Alembic configuration; the services'
`migrations/env.py` (`run_migrations`) takes the engine and the metadata from the app's
`MigrationSource`, so Flask-Migrate is given no `db` object (it needs one only for its own
env.py templates, which these histories do not use)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from flask import Flask, current_app
from flask_migrate import Migrate
from sqlalchemy import Engine, MetaData

from service_kit.db.mixins import ONLY_ON_DIALECT, UTCDateTime
from service_kit.db.session import Database

MIGRATION_SOURCE_KEY: Final = "service_kit.migration_source"


@dataclass(frozen=True, slots=True)
class MigrationSource:
    """What a service's migrations run on: its engine, and the metadata autogenerate compares
    the database with."""

    engine: Engine
    metadata: MetaData


def init_migrations(app: Flask, database: Database, metadata: MetaData, directory: Path) -> None:
    """Register `flask db ...` for `metadata`, with the history kept in `directory`."""
    app.extensions[MIGRATION_SOURCE_KEY] = MigrationSource(database.engine, metadata)
    Migrate(
        directory=str(directory),
        compare_type=True,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        include_object=_on_dialect(database.engine.dialect.name),
    ).init_app(app)


def _on_dialect(dialect: str) -> Callable[..., bool]:
    """Autogenerate's filter: leave out model objects that exist on another dialect only."""

    # Alembic calls it positionally with this signature.
    def include(obj: Any, _name: Any, _type: Any, reflected: bool, _other: Any) -> bool:  # noqa: FBT001
        only_on = None if reflected else getattr(obj, "info", {}).get(ONLY_ON_DIALECT)
        return only_on is None or only_on == dialect

    return include


def _render_item(kind: str, obj: Any, _context: Any) -> str | bool:
    # Render our UTC wrapper as the plain column type, so migration files depend on SQLAlchemy
    # alone and keep working when application code moves.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    """Body of every service's `migrations/env.py`."""
    from alembic import context

    target = cast(MigrationSource, current_app.extensions[MIGRATION_SOURCE_KEY])
    # Flask-Migrate's documented hand-over to env.py: the context options given to Migrate.
    options = {**current_app.extensions["migrate"].configure_args, "render_item": _render_item}
    if context.is_offline_mode():
        context.configure(
            url=target.engine.url.render_as_string(hide_password=False),
            target_metadata=target.metadata,
            literal_binds=True,
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    with target.engine.connect() as connection:
        # The services' statement timeout (`*_DATABASE_STATEMENT_TIMEOUT_MS`, 10 s) guards
        # requests; a migration that rewrites or indexes a large table may take minutes, so it
        # is lifted for the migrating session (and restored before the pool gets it back).
        lift_timeout = connection.dialect.name == "postgresql"
        if lift_timeout:
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target.metadata, **options)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if lift_timeout and not connection.invalidated:
                connection.rollback()
                connection.exec_driver_sql("RESET statement_timeout")
                connection.commit()
