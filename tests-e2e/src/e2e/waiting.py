"""Bounded waiting: every wait in the e2e suite has a deadline and says what it waited for;
and pacing, for requests a rate limit counts."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """A condition did not hold before its deadline (an assertion failure, not an error)."""


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> T:
    """Call `condition` until it returns neither None nor False; return that value.

    (Not "until truthy": a `requests.Response` with an error status is falsy.)

    Raises:
        WaitTimeoutError: still None or False after `timeout` seconds; the message names `what`
            and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"{what}: not within {timeout:g} s (last: {result!r})")
        time.sleep(interval)


class Pace:
    """At most `per_second` calls of `wait` return per second, evenly spaced."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1 / per_second
        self._next = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self._interval
