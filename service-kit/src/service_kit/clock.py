"""The one source of the current time; services take a `Clock` so tests can move time."""

from datetime import UTC, datetime
from typing import Final, Protocol


class Clock(Protocol):
    """Tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Final[Clock] = SystemClock()
