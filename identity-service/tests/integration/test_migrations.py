"""The migration history: it builds the schema from nothing, undoes it, and matches the models.

The tests are the ones every service runs (`service_kit_testing.migration_tests`); this module
says what identity's models are and which column no migration creates.
"""

from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String

from identity.models import Base
from service_kit_testing.migration_tests import *  # noqa: F403  (collected from here)


@pytest.fixture
def model_metadata() -> MetaData:
    return Base.metadata


@pytest.fixture
def unmigrated_column() -> tuple[str, Column[Any]]:
    return "users", Column("nickname", String(50))
