"""service-kit's own suite: the database fixtures every service shares come from the plugin."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, MetaData, create_engine

from service_kit_testing import PostgresServer

pytest_plugins = ["service_kit_testing.pytest_plugin"]


def engine_on(request: pytest.FixtureRequest, metadata: MetaData, *, name: str) -> Iterator[Engine]:
    """For a fixture parametrized with "postgresql" and "sqlite": an engine on a fresh
    database of that kind with `metadata`'s tables (a throwaway PostgreSQL database `name`)."""
    if request.param == "sqlite":
        engine = create_engine("sqlite://")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    with server.temporary_database(name) as url:
        engine = create_engine(url)
        metadata.create_all(engine)
        yield engine
        engine.dispose()
