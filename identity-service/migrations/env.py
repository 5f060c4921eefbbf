"""Alembic environment of identity-service: the shared runner targets identity's metadata."""

from service_kit.http.migrations import run_migrations

run_migrations()
