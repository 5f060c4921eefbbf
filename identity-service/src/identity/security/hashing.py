"""Argon2id password hashing, with a constant-cost path for unknown accounts."""

from typing import Protocol

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


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
