"""Test support shared by the services' suites: a controllable clock and PostgreSQL provisioning.

Imported only by tests; nothing in a running service depends on it.
"""

from service_kit.testing.clock import FakeClock
from service_kit.testing.postgres import PostgresServer, postgres_server

__all__ = ["FakeClock", "PostgresServer", "postgres_server"]
