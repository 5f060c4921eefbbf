"""Whether a run may skip a test whose dependency is missing (a server, a tool): on a
developer's machine it may, and says why; under CI (`CI` set) or with the dependency's
`REQUIRE_*` variable set, the missing dependency fails the run instead. Every suite asks here,
so no skip can hide missing coverage in CI."""

import os
from typing import NoReturn

import pytest


def flag(name: str) -> bool:
    """An environment variable set to 1, true or yes."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def in_ci() -> bool:
    return flag("CI")


def required(variable: str | None = None) -> bool:
    """Whether this run must have the dependency: CI, or its `variable` set."""
    return in_ci() or (variable is not None and flag(variable))


def skip_unless_required(reason: str, *, variable: str | None = None) -> NoReturn:
    """Skip with `reason`, or fail with it where the dependency is required."""
    if required(variable):
        by = "CI" if in_ci() else variable
        pytest.fail(f"{reason} ({by} requires it)", pytrace=False)
    pytest.skip(reason)
