"""Argon2id password hashing via argon2-cffi."""

import pytest

from identity.security.hashing import Argon2idHasher
from tests.conftest import CHEAP_ARGON2


def test_verify_returns_true_when_password_matches(hasher: Argon2idHasher) -> None:
    password_hash = hasher.hash("correct horse battery")

    is_valid = hasher.verify(password_hash, "correct horse battery")

    assert is_valid is True


@pytest.mark.parametrize(
    "attempt", ["wrong horse battery", "Correct horse battery", "correct horse battery ", ""]
)
def test_verify_returns_false_when_password_differs(hasher: Argon2idHasher, attempt: str) -> None:
    password_hash = hasher.hash("correct horse battery")

    is_valid = hasher.verify(password_hash, attempt)

    assert is_valid is False


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$broken"])
def test_verify_returns_false_when_stored_hash_is_malformed(
    hasher: Argon2idHasher, stored: str
) -> None:
    is_valid = hasher.verify(stored, "correct horse battery")

    assert is_valid is False


def test_hash_produces_an_argon2id_hash_when_hashing(hasher: Argon2idHasher) -> None:
    password_hash = hasher.hash("correct horse battery")

    assert password_hash.startswith("$argon2id$")


def test_hash_salts_each_hash_when_the_same_password_is_hashed_twice(
    hasher: Argon2idHasher,
) -> None:
    first, second = hasher.hash("same password"), hasher.hash("same password")

    assert first != second


def test_needs_rehash_returns_false_when_parameters_are_unchanged(hasher: Argon2idHasher) -> None:
    password_hash = hasher.hash("correct horse battery")

    needs_rehash = hasher.needs_rehash(password_hash)

    assert needs_rehash is False


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"time_cost": CHEAP_ARGON2["time_cost"] + 1}, id="time-cost"),
        pytest.param({"memory_cost_kib": CHEAP_ARGON2["memory_cost_kib"] * 2}, id="memory-cost"),
        pytest.param({"parallelism": CHEAP_ARGON2["parallelism"] + 1}, id="parallelism"),
    ],
)
def test_needs_rehash_returns_true_when_parameters_change(
    hasher: Argon2idHasher, changed: dict[str, int]
) -> None:
    password_hash = hasher.hash("correct horse battery")
    stronger = Argon2idHasher(**{**CHEAP_ARGON2, **changed})

    needs_rehash = stronger.needs_rehash(password_hash)

    assert needs_rehash is True
