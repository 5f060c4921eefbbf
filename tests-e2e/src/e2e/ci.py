"""Whether this run must not skip: CI, or an explicit REQUIRE_* variable."""

import os


def flag(name: str) -> bool:
    """An environment variable set to 1, true or yes."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def in_ci() -> bool:
    return flag("CI")
