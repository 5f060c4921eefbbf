"""Test support shared by the services' suites.

A controllable clock, PostgreSQL provisioning and the pytest plugin with the database fixtures;
then migrations (`migrations`, and the tests every service runs in `migration_tests`), races
over a live server (`concurrency`), the in-process Schemathesis harness (`schemathesis`),
forged JWTs (`forgery`), bearer credentials (`auth`) and the problem+json assertion
(`problems`).

Imported only by tests; nothing in a running service depends on it.
"""

import pytest

from service_kit_testing.clock import FakeClock
from service_kit_testing.postgres import PostgresServer, postgres_server

# The shared tests and assertion helpers report failures the way a test file does. This runs
# when the package is first imported, before any of these modules can be.
pytest.register_assert_rewrite(
    "service_kit_testing.auth",
    "service_kit_testing.concurrency",
    "service_kit_testing.migration_tests",
    "service_kit_testing.openapi",
    "service_kit_testing.problems",
    "service_kit_testing.schemathesis",
)

__all__ = ["FakeClock", "PostgresServer", "postgres_server"]
