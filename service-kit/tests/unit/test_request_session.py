"""The per-request session's bookkeeping, on SQLite (no server needed)."""

import gc

from flask import Flask
from sqlalchemy import text

from service_kit.db import Database, transaction
from service_kit.http.db import commit_sent, get_session, init_database

APPS = 100


def test_commit_is_noted_in_every_app_when_apps_built_before_it_were_freed() -> None:
    missed = 0
    for _ in range(APPS):
        app = Flask(__name__)
        database = Database("sqlite://")
        init_database(app, database)
        with app.test_request_context():
            session = get_session()
            with transaction(session):
                session.execute(text("SELECT 1"))
            missed += not commit_sent()
        database.dispose()
        # A freed factory's id comes back for a new one; SQLAlchemy's event registry keys on it.
        del app, database, session
        gc.collect(1)

    assert missed == 0
