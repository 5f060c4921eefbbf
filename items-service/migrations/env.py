"""Alembic environment of items-service: the shared runner targets items' metadata."""

from service_kit.http.migrations import run_migrations

run_migrations()
