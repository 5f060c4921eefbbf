"""A PostgreSQL server for integration tests: `TEST_DATABASE_URL`, else a throwaway container.

With neither, callers skip with a reason; `REQUIRE_POSTGRES=1` turns that skip into a failure
so CI can never pass without the database tests.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from service_kit_testing.required import required

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"
REQUIRE_POSTGRES_ENV = "REQUIRE_POSTGRES"
CONTAINER_IMAGE_ENV = "TEST_POSTGRES_IMAGE"
TERMINATE_WAIT_MS = 5_000


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL could be found or started; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A server the tests may create and drop databases on."""

    url: URL

    def create_database(self, prefix: str) -> str:
        """Create an empty database with a unique name and return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def temporary_database(self, prefix: str) -> Iterator[str]:
        """An empty database (see `create_database`) that is dropped when the block ends."""
        url = self.create_database(prefix)
        try:
            yield url
        finally:
            self.drop_database(url)

    def terminate_connections(self, url: str) -> int:
        """Terminate every backend connected to the database at `url`, as a server restart or
        a failover does to pooled connections; returns how many there were. Waits until each
        is gone, so the next use of a terminated connection fails."""
        name = make_url(url).database
        return int(
            self._admin(
                "SELECT count(pg_terminate_backend(pid, :wait_ms)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()",
                name=name,
                wait_ms=TERMINATE_WAIT_MS,
            )
        )

    def terminate_backend(self, pid: int) -> None:
        """Terminate one backend (a connection's `backend_pid`) and wait until it is gone."""
        self._admin(
            "SELECT pg_terminate_backend(:pid, :wait_ms)", pid=pid, wait_ms=TERMINATE_WAIT_MS
        )

    def _admin(self, statement: str, **params: object) -> Any:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as connection:
                result = connection.execute(text(statement), params)
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()


def _docker_available() -> bool:
    return shutil.which("docker") is not None and (
        os.path.exists("/var/run/docker.sock") or bool(os.environ.get("DOCKER_HOST"))
    )


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Yield a server from `TEST_DATABASE_URL`, or from a container started for this run.

    Raises:
        PostgresUnavailableError: neither is available.
    """
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    if configured:
        yield PostgresServer(make_url(configured).set(database="postgres"))
        return
    if not _docker_available():
        raise PostgresUnavailableError(
            f"no PostgreSQL: set {TEST_DATABASE_URL_ENV} or make a Docker engine available"
        )
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    from testcontainers.community.postgres import PostgresContainer

    image = os.environ.get(CONTAINER_IMAGE_ENV, "postgres:15-bookworm")
    with PostgresContainer(image, driver="psycopg") as container:
        yield PostgresServer(make_url(container.get_connection_url()).set(database="postgres"))


def postgres_required() -> bool:
    return required(REQUIRE_POSTGRES_ENV)
