"""Argon2id password hashing, with a constant-cost path for unknown accounts and a bulkhead.

identity_password_hash_seconds{operation}  histogram  time inside the hasher (hash, verify,
                                                      burn: an unknown account's verify), on
                                                      the thread that ran it; what a login
                                                      costs beyond it is the request's time
                                                      minus this
"""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Final, ParamSpec, Protocol, TypeVar

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from prometheus_client import Histogram

from service_kit.bulkhead import Bulkhead

P = ParamSpec("P")
T = TypeVar("T")

# Process-wide like the HTTP metrics (service_kit.http.metrics): served on /metrics, summed over
# gunicorn's workers.
HASH_SECONDS: Final = Histogram(
    "identity_password_hash_seconds",
    "Time spent hashing or verifying a password, by operation (hash, verify, burn)",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5),
)


def _timed(operation: str, fn: Callable[P, T]) -> Callable[P, T]:
    observed = HASH_SECONDS.labels(operation)

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            observed.observe(time.perf_counter() - started)

    return run


class PasswordHasher(Protocol):
    """Hashes and checks passwords; tests swap in a cheap one."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def burn_time(self, password: str) -> None:
        """Spend what a verification costs, for accounts that do not exist."""
        ...

    def reserved(self) -> AbstractContextManager[None]:
        """The block's hashing may run: its capacity is held for it, or `OverloadedError` is
        raised before the block starts (so nothing is counted for a refused login)."""
        ...


class Argon2idHasher:
    """Argon2id via argon2-cffi."""

    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 65_536, parallelism: int = 4):
        self._argon2 = Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def burn_time(self, password: str) -> None:
        # Verifying against a real hash with the same parameters costs what a real check costs,
        # so an unknown email cannot be told apart by response time.
        if self._dummy_hash is None:
            self._dummy_hash = self._argon2.hash("not-a-real-password")
        self.verify(self._dummy_hash, password)

    def reserved(self) -> AbstractContextManager[None]:
        return nullcontext()  # no bound of its own: BulkheadHasher adds one


class BulkheadHasher:
    """Runs another hasher's expensive calls (hash, verify, burn_time) inside a bulkhead.

    A hash holds a worker thread and most of a core for about 100 ms; without a bound, a flood
    of logins takes every thread and everything else (refreshes, reads) queues behind it. With
    one, hashing beyond the capacity is refused at once (`OverloadedError`: 503 `overloaded`
    with `Retry-After`), the other threads stay free, and the admitted hashes run at a lower
    CPU priority (the bulkhead's niceness), so cheap requests get the cores first.

    Each admitted call's time is observed in `identity_password_hash_seconds`.
    """

    def __init__(self, inner: PasswordHasher, bulkhead: Bulkhead) -> None:
        self._inner = inner
        self.bulkhead = bulkhead
        self._hash = _timed("hash", inner.hash)
        self._verify = _timed("verify", inner.verify)
        self._burn_time = _timed("burn", inner.burn_time)

    def hash(self, password: str) -> str:
        return self.bulkhead.call(self._hash, password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self.bulkhead.call(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)

    def burn_time(self, password: str) -> None:
        self.bulkhead.call(self._burn_time, password)

    def reserved(self) -> AbstractContextManager[None]:
        return self.bulkhead.reserved()
