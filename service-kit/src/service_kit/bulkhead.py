"""A bulkhead: at most N callers at once in an expensive section; the rest are refused at once.

Refusing instead of queueing keeps the worker threads free for everything else: a flood of
expensive requests (password hashing) then costs its own callers a 503 with `Retry-After`, not
every other caller a wait behind it. With a niceness, the admitted work also runs on threads of
lower CPU priority (Linux), so when the cores are busy the cheap requests get them first.
"""

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from service_kit.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class OverloadedError(ServiceUnavailableError):
    code, title = "overloaded", "Overloaded"
    default_detail = "The service is busy with requests of this kind; retry after a moment."
    retry_after_seconds = 1


def lower_thread_priority(niceness: int) -> None:
    """Give the calling thread (and the threads it starts) at least this niceness (Linux)."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere PRIO_PROCESS with a thread id would renice the whole process
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, max(current, niceness))
    except OSError as exc:  # a sandbox may forbid it; the bulkhead still bounds the work
        logger.warning("cannot lower thread priority", extra={"error": str(exc)})


class Bulkhead:
    """Admits at most `capacity` concurrent callers (per process); 0 means no limit.

    `call` runs the admitted work on one of `capacity` threads of its own, with `niceness`
    (0: on the caller's thread, at its priority).
    """

    def __init__(self, capacity: int, *, niceness: int = 0, name: str = "bulkhead") -> None:
        if capacity < 0 or not 0 <= niceness <= 19:
            raise ValueError("capacity must be >= 0 and niceness 0-19")
        self.capacity = capacity
        self._slots = threading.BoundedSemaphore(capacity) if capacity else None
        self._executor = (
            ThreadPoolExecutor(
                max_workers=capacity,
                thread_name_prefix=name,
                initializer=lower_thread_priority,
                initargs=(niceness,),
            )
            if capacity and niceness
            else None
        )
        self._reserved = threading.local()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block.

        Raises:
            OverloadedError: every slot is taken.
        """
        if self._slots is None:
            yield
            return
        if not self._slots.acquire(blocking=False):
            raise OverloadedError()
        try:
            yield
        finally:
            self._slots.release()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` inside a slot, on the bulkhead's own threads if it has them.

        Raises:
            OverloadedError: every slot is taken; `fn` did not run.
        """
        if getattr(self._reserved, "held", False):
            return self._run(fn, *args, **kwargs)
        with self.slot():
            return self._run(fn, *args, **kwargs)

    @contextmanager
    def reserved(self) -> Iterator[None]:
        """Hold one slot for the calling thread's `call`s in the block (they take no other).

        For work that must not start unless its expensive part can run: a login counts its
        attempt, then hashes; reserved first, a login refused for capacity has counted nothing.

        Raises:
            OverloadedError: every slot is taken; the block did not run.
        """
        if getattr(self._reserved, "held", False):
            yield
            return
        with self.slot():
            self._reserved.held = True
            try:
                yield
            finally:
                self._reserved.held = False

    def _run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            return fn(*args, **kwargs)
        return self._executor.submit(fn, *args, **kwargs).result()
