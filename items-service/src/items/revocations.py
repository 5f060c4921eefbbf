"""The revocation feed as each worker's `RevocationView` reads it: items' own table, through a
connection of the worker's own, so polling never waits for (or holds) a request's connection."""

import os
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from items.config import ItemsSettings
from items.repositories.revocation_repository import RevocationFeedRepository
from service_kit.db import Database
from service_kit.security.revocation import RevocationEntry

POLL_STATEMENT_TIMEOUT_MS = 2_000


class DatabaseRevocationFeed:
    """A `RevocationFeed` over the `revocation_feed` table; one pooled connection per process,
    opened on first use (after gunicorn's fork)."""

    def __init__(self, settings: ItemsSettings) -> None:
        self._settings = settings
        self._database: Database | None = None
        self._pid: int | None = None

    def read_live(self, now: datetime) -> tuple[int, Sequence[RevocationEntry]]:
        with self._session() as session:
            return RevocationFeedRepository(session).read_live(now)

    def read_after(self, revision: int, *, limit: int) -> Sequence[RevocationEntry]:
        with self._session() as session:
            return RevocationFeedRepository(session).read_after(revision, limit=limit)

    def close(self) -> None:
        if self._database is not None and self._pid == os.getpid():
            self._database.dispose()
        self._database = None

    def _session(self) -> Session:
        if self._database is None or self._pid != os.getpid():
            # A copy inherited through fork shares its parent's sockets: never use it.
            settings = self._settings
            self._database = Database(
                settings.database_url,
                pool_size=1,
                max_overflow=0,
                pool_timeout_seconds=settings.database_pool_timeout_seconds,
                connect_timeout_seconds=settings.database_connect_timeout_seconds,
                statement_timeout_ms=POLL_STATEMENT_TIMEOUT_MS,
                pre_ping=settings.database_pool_pre_ping,
                autocommit_reads=True,
            )
            self._pid = os.getpid()
        return self._database.session_factory()
