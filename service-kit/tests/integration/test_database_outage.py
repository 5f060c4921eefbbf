"""A database that goes away under a running service: lost pooled connections, a COMMIT cut
off, no server at all. None of it may answer 500.

Each app here runs on a database of this module's own with a real pool (the rollback fixtures
share one connection, which cannot be cut). Backends are ended with `pg_terminate_backend`,
which is what a restart or a failover does to the connections a pool keeps.
"""

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, String, create_engine, event, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service_kit.config import ServiceSettings
from service_kit.db import Database, IntegerPkMixin, transaction
from service_kit.db.transaction import AUTOCOMMIT
from service_kit.http.app import create_service_app
from service_kit.http.db import get_session
from service_kit_testing import PostgresServer
from service_kit_testing.concurrency import under_load
from service_kit_testing.migrations import app_database

pytestmark = pytest.mark.postgres

LOAD_THREADS = 6
TERMINATIONS = 4
TERMINATION_INTERVAL_SECONDS = 0.4


class _Base(IntegerPkMixin, DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "outage_notes"

    body: Mapped[str] = mapped_column(String(50))


@pytest.fixture(scope="module")
def outage_url(pg_server: PostgresServer) -> Iterator[str]:
    with pg_server.temporary_database("kit_outage") as url:
        engine = create_engine(url)
        _Base.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture(autouse=True)
def _empty_table(outage_url: str) -> None:
    engine = create_engine(outage_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE outage_notes"))
    engine.dispose()


def _notes_app(
    url: str,
    *,
    pool_size: int = 2,
    pool_timeout_seconds: float = 30,
    connect_timeout_seconds: int = 0,
    statement_timeout_ms: int = 0,
) -> Flask:
    """A service app with a read (autocommit) and a write (two statements in a transaction)."""
    settings = ServiceSettings(_env_file=None, env="test", database_url=url)  # type: ignore[call-arg]
    database = Database(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout_seconds=pool_timeout_seconds,
        connect_timeout_seconds=connect_timeout_seconds,
        statement_timeout_ms=statement_timeout_ms,
        autocommit_reads=True,
    )
    app = create_service_app(
        __name__,
        settings=settings,
        database=database,
        title="notes",
        version="0",
        description="Notes, to cut the database under.",
    )

    def list_notes() -> ResponseReturnValue:
        bodies = get_session().scalars(select(Note.body).order_by(Note.id)).all()
        return {"data": list(bodies)}

    def create_note() -> ResponseReturnValue:
        session = get_session()
        if request.args.get("read_first"):
            session.scalars(select(Note.id).limit(1)).all()  # an autocommit read, then the write
        with transaction(session):
            note = Note(body=str(request.get_json()["body"]))
            session.add(note)
            session.flush()
            session.execute(select(func.count(Note.id)))  # a second statement, same transaction
        return {"id": note.id}, 201

    def slow_read() -> ResponseReturnValue:
        get_session().execute(text("SELECT pg_sleep(2)"))
        return {"slept": True}

    app.add_url_rule("/notes", "list_notes", list_notes, methods=["GET"])
    app.add_url_rule("/slow", "slow_read", slow_read, methods=["GET"])
    app.add_url_rule("/notes", "create_note", create_note, methods=["POST"])
    return app


@pytest.fixture
def app(outage_url: str) -> Iterator[Flask]:
    app = _notes_app(outage_url)
    yield app
    app_database(app).dispose()


def _stored(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        bodies = connection.execute(select(Note.body).order_by(Note.id)).scalars().all()
    engine.dispose()
    return list(bodies)


def _backend_pid(connection: Connection) -> int:
    pid: int = connection.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
    return pid


def _once(action: Callable[..., None]) -> Callable[..., None]:
    """`action` on the first call only, so the request's second run goes through."""
    done = threading.Event()

    def first_time_only(*args: Any) -> None:
        if not done.is_set():
            done.set()
            action(*args)

    return first_time_only


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere"  # nothing listens there


def test_read_is_run_again_and_answers_200_when_its_pooled_connection_was_terminated(
    app: Flask, outage_url: str, pg_server: PostgresServer
) -> None:
    client = app.test_client()
    assert client.get("/notes").status_code == 200  # the pool now holds a connection
    assert pg_server.terminate_connections(outage_url) >= 1

    response = client.get("/notes")

    assert response.status_code == 200
    assert response.json == {"data": []}


def test_rerun_is_logged_once_at_warning_without_sql_when_a_pooled_connection_was_lost(
    app: Flask, outage_url: str, pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    client.get("/notes")
    pg_server.terminate_connections(outage_url)

    with caplog.at_level(logging.WARNING):
        client.get("/notes")

    reruns = [r for r in caplog.records if r.name == "service_kit.http.db"]
    assert [r.levelno for r in reruns] == [logging.WARNING]
    logged = str(reruns[0].__dict__)
    assert "outage_notes" not in logged
    assert "SELECT" not in logged


@pytest.mark.parametrize("path", ["/notes", "/notes?read_first=1"])
def test_write_is_run_again_and_stored_once_when_its_transaction_was_cut_before_commit(
    app: Flask, outage_url: str, pg_server: PostgresServer, path: str
) -> None:
    def terminate_after_insert(connection: Connection, *_: Any) -> None:
        pg_server.terminate_backend(_backend_pid(connection))  # the server rolls it back

    def after_cursor_execute(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT"):
            cut(connection)

    cut = _once(terminate_after_insert)
    event.listen(app_database(app).engine, "after_cursor_execute", after_cursor_execute)

    response = app.test_client().post(path, json={"body": "once"})

    assert response.status_code == 201
    assert _stored(outage_url) == ["once"]


def _terminate_at_commit(app: Flask, pg_server: PostgresServer) -> None:
    def terminate(connection: Connection) -> None:
        pg_server.terminate_backend(_backend_pid(connection))

    terminate_once = _once(terminate)

    def on_commit(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") != AUTOCOMMIT:
            terminate_once(connection)  # the COMMIT that follows meets a dead connection

    event.listen(app_database(app).engine, "commit", on_commit)


def test_write_answers_503_database_unavailable_with_retry_after_when_the_connection_dies_at_commit(
    app: Flask, pg_server: PostgresServer
) -> None:
    _terminate_at_commit(app, pg_server)

    response = app.test_client().post("/notes", json={"body": "unknown"})

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "2"
    assert response.json is not None
    assert response.json["code"] == "database_unavailable"


def test_write_is_not_run_again_when_the_connection_dies_at_commit(
    app: Flask, outage_url: str, pg_server: PostgresServer
) -> None:
    _terminate_at_commit(app, pg_server)

    app.test_client().post("/notes", json={"body": "unknown"})

    assert _stored(outage_url) == []  # a second run would have committed it


def test_api_route_answers_503_database_unavailable_when_no_database_server_answers() -> None:
    app = _notes_app(_closed_port_url())

    response = app.test_client().get("/notes")

    app_database(app).dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json is not None
    assert response.json["code"] == "database_unavailable"


def test_api_route_answers_503_database_unavailable_when_no_pooled_connection_frees_up(
    outage_url: str,
) -> None:
    app = _notes_app(outage_url, pool_size=1, pool_timeout_seconds=0.2)
    database = app_database(app)
    held = database.engine.connect()  # the pool's only connection

    response = app.test_client().get("/notes")

    held.close()
    database.dispose()
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "database_unavailable"


def test_api_route_answers_503_database_unavailable_when_a_statement_hits_the_timeout(
    outage_url: str,
) -> None:
    app = _notes_app(outage_url, statement_timeout_ms=100)

    response = app.test_client().get("/slow")

    app_database(app).dispose()
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "database_unavailable"


def test_api_route_answers_503_within_the_connect_timeout_when_the_server_never_answers() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        app = _notes_app(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/none", connect_timeout_seconds=1
        )
        started = time.monotonic()

        response = app.test_client().get("/notes")

        elapsed = time.monotonic() - started
        app_database(app).dispose()
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "database_unavailable"
    assert elapsed < 10  # one connect timeout, and one more for the rerun: not gunicorn's 30 s


def test_readiness_answers_200_on_the_first_call_when_the_database_connections_were_terminated(
    app: Flask, outage_url: str, pg_server: PostgresServer
) -> None:
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    assert pg_server.terminate_connections(outage_url) >= 1

    response = client.get("/health/ready")

    assert response.status_code == 200


def test_readiness_answers_503_when_no_database_server_answers() -> None:
    app = _notes_app(_closed_port_url())

    response = app.test_client().get("/health/ready")

    app_database(app).dispose()
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "not_ready"


def test_load_gets_no_500_and_keeps_every_acknowledged_write_when_backends_are_terminated(
    outage_url: str, pg_server: PostgresServer
) -> None:
    app = _notes_app(outage_url, pool_size=LOAD_THREADS)
    answers: Counter[tuple[int, str | None]] = Counter()
    acknowledged: list[str] = []
    lock = threading.Lock()

    def load(thread: int, stop: threading.Event) -> None:
        client = app.test_client()
        sent = 0
        while not stop.is_set():
            sent += 1
            body = f"t{thread}-{sent}"
            if sent % 2:
                response = client.post("/notes", json={"body": body})
            else:
                response = client.get("/notes")
            with lock:
                code = response.json.get("code") if response.status_code >= 400 else None  # type: ignore[union-attr]
                answers[response.status_code, code] += 1
                if response.status_code == 201:
                    acknowledged.append(body)

    try:
        terminated = under_load(
            load,
            threads=LOAD_THREADS,
            disruption=lambda: pg_server.terminate_connections(outage_url),
            times=TERMINATIONS,
            interval_seconds=TERMINATION_INTERVAL_SECONDS,
        )
    finally:
        app_database(app).dispose()

    assert terminated >= TERMINATIONS  # the load held connections each time
    assert set(answers) <= {(200, None), (201, None), (503, "database_unavailable")}, answers
    assert set(acknowledged) <= set(_stored(outage_url))
