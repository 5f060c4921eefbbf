"""One lazily opened session per request, closed at app-context teardown."""

from typing import Final, cast

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from service_kit.db.session import Database

EXTENSION_KEY: Final = "service_kit.db"


def init_database(app: Flask, database: Database) -> None:
    """Attach `database` to `app` and close each request's session at teardown."""
    app.extensions[EXTENSION_KEY] = database
    app.teardown_appcontext(_close_session)


def get_database() -> Database:
    """The database of the current app."""
    return cast(Database, current_app.extensions[EXTENSION_KEY])


def get_session() -> Session:
    """The current request's session, opened on first use."""
    session = g.get("db_session")
    if session is None:
        session = get_database().session_factory()
        g.db_session = session
    return cast(Session, session)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
