"""Argon2id password hashing, with a constant-cost path for unknown accounts and a bulkhead."""

from typing import Protocol

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service_kit.bulkhead import Bulkhead


class PasswordHasher(Protocol):
    """Hashes and checks passwords; tests swap in a cheap one."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def burn_time(self, password: str) -> None:
        """Spend what a verification costs, for accounts that do not exist."""
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


class BulkheadHasher:
    """Runs another hasher's expensive calls (hash, verify, burn_time) inside a bulkhead.

    A hash holds a worker thread and most of a core for about 100 ms; without a bound, a flood
    of logins takes every thread and everything else (refreshes, reads) queues behind it. With
    one, hashing beyond the capacity is refused at once (`OverloadedError`: 503 `overloaded`
    with `Retry-After`), the other threads stay free, and the admitted hashes run at a lower
    CPU priority (the bulkhead's niceness), so cheap requests get the cores first.
    """

    def __init__(self, inner: PasswordHasher, bulkhead: Bulkhead) -> None:
        self._inner = inner
        self.bulkhead = bulkhead

    def hash(self, password: str) -> str:
        return self.bulkhead.call(self._inner.hash, password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self.bulkhead.call(self._inner.verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)

    def burn_time(self, password: str) -> None:
        self.bulkhead.call(self._inner.burn_time, password)
