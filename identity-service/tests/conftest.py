"""Fixtures every identity test may use: settings and a cheap real hasher."""

import pytest

from identity.config import IdentitySettings
from identity.security.hashing import Argon2idHasher

# Database, connection, session and clock fixtures shared with every service's suite.
pytest_plugins = ["service_kit_testing.pytest_plugin"]

CHEAP_ARGON2 = {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1}


def make_settings(**overrides: object) -> IdentitySettings:
    """Test settings: no .env file, no environment surprises, cheap hashing."""
    values: dict[str, object] = {
        "env": "test",
        "database_url": "sqlite:///:memory:",
        "log_json": True,
        "argon2_time_cost": CHEAP_ARGON2["time_cost"],
        "argon2_memory_cost_kib": CHEAP_ARGON2["memory_cost_kib"],
        "argon2_parallelism": CHEAP_ARGON2["parallelism"],
        "verification_key_cache_seconds": 0,
    }
    values.update(overrides)
    return IdentitySettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def hasher() -> Argon2idHasher:
    return Argon2idHasher(**CHEAP_ARGON2)
